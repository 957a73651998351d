"""Staff login: encrypted session cookies, CSRF tokens, limited and logged failed logins.

Everything under /staff/ needs a logged-in account, except the login page and the two
calls it makes (``GET /staff/api/session`` for its CSRF token, ``POST /staff/api/login``):
pages redirect to the login page, the JSON API answers 401. Every request that changes
state (POST) must carry the session's CSRF token in ``X-CSRF-Token`` (403 otherwise).
The cookie is encrypted and signed (Fernet, aiohttp-session), HttpOnly, SameSite=Strict,
limited to /staff, Secure when ``STAFF_COOKIE_SECURE=true`` (behind HTTPS).
"""
from __future__ import annotations

import base64
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Awaitable, Callable, Optional

from aiohttp import web
from aiohttp_session import get_session, new_session, session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import InvalidToken

from bot.config import Settings
from bot.staff.accounts import Account, load_accounts, verify
from bot.staff.auth_limits import FAILURE_WINDOW
from bot.staff.context import STAFF

logger = logging.getLogger(__name__)

SESSION_HOURS = 8
PUBLIC = {("GET", "/staff/login"), ("GET", "/staff/api/session"), ("POST", "/staff/api/login")}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_key(settings: Settings) -> bytes:
    """``STAFF_SESSION_KEY`` (32 bytes, URL-safe base64), or one generated once and kept
    in the staff directory (owner-only), so sessions survive a restart."""
    configured = os.environ.get("STAFF_SESSION_KEY")
    if configured:
        return base64.urlsafe_b64decode(configured)
    path: Path = settings.staff_dir / "session.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)))
    return base64.urlsafe_b64decode(path.read_bytes())


class QuietEncryptedCookieStorage(EncryptedCookieStorage):
    """A cookie that does not decrypt (old key, tampered) is an empty session, not an
    error page."""

    async def load_session(self, request: web.Request):  # type: ignore[no-untyped-def]
        try:
            return await super().load_session(request)
        except InvalidToken:
            return await self.new_session()


def session_middleware_for(settings: Settings) -> Callable:
    return session_middleware(QuietEncryptedCookieStorage(
        session_key(settings), cookie_name="staff_session", path="/staff", httponly=True,
        samesite="Strict", secure=settings.staff_cookie_secure,
        max_age=SESSION_HOURS * 3600))


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


async def current_account(request: web.Request) -> Optional[Account]:
    """The logged-in account, if it still exists in the accounts file."""
    session = await get_session(request)
    username = session.get("user")
    if not username:
        return None
    return load_accounts(request.app[STAFF].settings.staff_accounts_file).get(username)


@web.middleware
async def staff_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No session, no staff page or data; no CSRF token, no change."""
    path = request.path
    if not (path == "/staff" or path.startswith("/staff/")):
        return await handler(request)
    api = path.startswith("/staff/api/")
    if request.method not in SAFE_METHODS:
        session = await get_session(request)
        sent = request.headers.get("X-CSRF-Token", "")
        if not session.get("csrf") or not hmac.compare_digest(sent.encode(),
                                                               session["csrf"].encode()):
            return web.json_response({"error": "CSRF token missing or wrong"}, status=403)
    if (request.method, path) not in PUBLIC:
        account = await current_account(request)
        if account is None:
            if api:
                return web.json_response({"error": "login required"}, status=401)
            raise web.HTTPFound("/staff/login?next=" + _safe_next(path))
        request["account"] = account
    response = await handler(request)
    response.headers["Cache-Control"] = "no-store"
    return response


def _safe_next(path: str) -> str:
    return path if path.startswith("/staff/") and "//" not in path else "/staff/"


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


async def session_info(request: web.Request) -> web.Response:
    account = await current_account(request)
    return web.json_response({
        "user": {"username": account.username, "name": account.name} if account else None,
        "csrf": await csrf_token(request)})


async def login(request: web.Request) -> web.Response:
    """Check the password; on success start a new session (new id, new CSRF token)."""
    failures = request.app[STAFF].failed_logins
    try:
        body = await request.json()
        username, password = str(body["username"]), str(body["password"])
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": "username and password"}, status=400)
    address = client_address(request)
    record = request.app[STAFF].record
    if failures.blocked(username, address):
        logger.warning("staff login for %r from %s refused: too many failures",
                       username, address)
        record(username, "login_refused", detail=address)
        return web.json_response({"error": "失敗が続いたため、しばらくログインできません。"
                                           "15分ほど待ってからお試しください。"},
                                 status=429, headers={"Retry-After": str(int(FAILURE_WINDOW))})
    account = verify(request.app[STAFF].settings.staff_accounts_file, username, password)
    if account is None:
        failures.add(username, address)
        logger.warning("staff login failed for %r from %s", username, address)
        record(username, "login_failed", detail=address)
        return web.json_response({"error": "ユーザー名またはパスワードが違います。"},
                                 status=401)
    failures.succeeded(username)
    session = await new_session(request)
    session["user"] = account.username
    session["csrf"] = secrets.token_urlsafe(32)
    record(account.username, "login", detail=address)
    return web.json_response({"user": {"username": account.username, "name": account.name},
                              "csrf": session["csrf"]})


async def logout(request: web.Request) -> web.Response:
    session = await get_session(request)
    request.app[STAFF].record(request["account"].username, "logout")
    session.invalidate()
    return web.json_response({"ok": True})
