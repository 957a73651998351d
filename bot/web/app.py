"""The web app: a sample municipal page with the chat widget, the widget's assets, and
the staff assist tool at /staff/ (``bot/staff``).

    python -m bot.web.app      (the launcher starts it on WEB_PORT, default 8080)

Everything the page needs is served from this project (no CDN at run time), so a page
on a municipal intranet works. The widget talks to Rasa's socket.io endpoint directly.
"""
from __future__ import annotations

import html
import logging
from pathlib import Path

from aiohttp import web

from bot.config import Settings, load_settings
from bot.privacy import install_log_masking
from bot.staff.auth import session_middleware_for, staff_guard
from bot.staff.context import staff_context
from bot.staff.routes import add_staff_routes

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
STAFF_STATIC = HERE.parent / "staff" / "static"
SOCKET_IO_CLIENT = HERE / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
SETTINGS = web.AppKey("settings", Settings)


def bot_url(request: web.Request) -> str:
    """The bot's address as this page's visitor reaches it: same host, Rasa's port."""
    host = request.host
    hostname = host[:host.index("]") + 1] if host.startswith("[") else host.split(":")[0]
    return f"{request.scheme}://{hostname}:{request.app[SETTINGS].rasa_port}"


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    """Headers every page carries, error pages too; the CSP allows only this app and the
    bot's endpoint."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        response = error
    bot = bot_url(request)
    socket = bot.replace("http", "ws", 1)
    response.headers.setdefault("Content-Security-Policy", (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {bot} {socket}; frame-ancestors 'self'; base-uri 'none'; "
        "form-action 'self'"))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    if isinstance(response, web.HTTPException):
        raise response
    return response


async def sample_page(request: web.Request) -> web.Response:
    """The sample municipal page, with the one-line embed pointing at this bot."""
    page = (STATIC / "sample.html").read_text(encoding="utf-8")
    return web.Response(text=page.replace("{{BOT_URL}}", html.escape(bot_url(request), quote=True)),
                        content_type="text/html", charset="utf-8")


async def socket_io_client(request: web.Request) -> web.FileResponse:
    if not SOCKET_IO_CLIENT.exists():
        raise web.HTTPServiceUnavailable(text="socket.io client not installed: run `make run`")
    return web.FileResponse(SOCKET_IO_CLIENT, headers={"Content-Type": "text/javascript"})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[security_headers, session_middleware_for(settings),
                                       staff_guard], client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(staff_context(settings))
    app.router.add_get("/", sample_page)
    app.router.add_get("/healthz", health)
    app.router.add_get("/widget/vendor/socket.io.min.js", socket_io_client)
    app.router.add_static("/widget/", STATIC / "widget")
    app.router.add_static("/assets/staff/", STAFF_STATIC)
    add_staff_routes(app)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()
    settings = load_settings()
    web.run_app(create_app(settings), host=settings.host, port=settings.web_port,
                print=None)


if __name__ == "__main__":
    main()
