"""Who can reach what: no Rasa HTTP API, the staff bridge only with its token, no foreign
origins, security headers on every page, everything on loopback by default, and the LINE
secrets and the bridge token in no file the bot writes."""
from __future__ import annotations

import urllib.error
import urllib.request
from typing import Dict, Optional, Tuple

import psutil
import pytest
import socketio

from bot.build import model_is_current
from tests.clients import post
from tests.conftest import (PUBLIC_ACTION_PORT, PUBLIC_BRIDGE_TOKEN, PUBLIC_LINE_SECRET,
                            PUBLIC_LINE_TOKEN, PUBLIC_RASA_PORT)

pytestmark = pytest.mark.skipif(not model_is_current(),
                                reason="no current model: run `make test`, which trains it")

RASA = f"http://127.0.0.1:{PUBLIC_RASA_PORT}"
WEB = f"http://127.0.0.1:{PUBLIC_RASA_PORT + 3000}"
FOREIGN = "https://evil.example"


def request(url: str, method: str = "GET", body: Optional[bytes] = None,
            headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str]]:
    call = urllib.request.Request(url, body, headers or {}, method=method)
    try:
        with urllib.request.urlopen(call, timeout=10) as answer:
            return answer.status, dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.mark.parametrize("method, path", [
    ("POST", "/model/parse"), ("GET", "/conversations/someone/tracker"),
    ("POST", "/conversations/someone/messages"), ("PUT", "/model"), ("GET", "/status"),
    ("GET", "/domain"), ("POST", "/model/train"),
])
def test_rasa_http_api_is_not_served(public_bot, method, path):
    body = b"{}" if method != "GET" else None
    status, _ = request(RASA + path, method, body, {"Content-Type": "application/json"})
    assert status in (404, 405)


@pytest.mark.parametrize("operation", ["parse", "reply", "resume"])
def test_the_staff_bridge_answers_only_with_its_token(public_bot, operation):
    url = f"{RASA}/webhooks/staff/{operation}"
    body = b'{"text": "\u4f4f\u6c11\u7968", "conversation_id": "x", "staff": "x"}'
    assert post(url, body)[0] == 404
    assert post(url, body, {"Authorization": "Bearer wrong-token"})[0] == 404
    assert post(url, body, {"Authorization": PUBLIC_BRIDGE_TOKEN})[0] == 404
    status, answer = post(url, body, {"Authorization": f"Bearer {PUBLIC_BRIDGE_TOKEN}"})
    if operation == "parse":
        assert status == 200 and answer["text"] == "住民票"
    else:
        assert status == 404 and answer == {"error": "no such conversation"}


def test_rest_channel_grants_no_cross_origin_access(public_bot):
    status, headers = request(RASA + "/webhooks/rest/webhook", "OPTIONS", headers={
        "Origin": FOREIGN, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in headers
    _, headers = request(RASA + "/webhooks/rest/webhook", "POST",
                         '{"sender": "cors", "message": "転入届"}'.encode(),
                         {"Origin": FOREIGN, "Content-Type": "application/json"})
    assert "Access-Control-Allow-Origin" not in headers


def test_widget_socket_refuses_a_foreign_origin_and_accepts_the_configured_one(public_bot):
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(RASA, transports=["polling"], headers={"Origin": FOREIGN},
                       wait_timeout=10)
    widget = public_bot.widget()
    try:
        assert widget.connected
    finally:
        widget.close()


@pytest.mark.parametrize("path", ["/", "/widget/widget.js", "/widget/widget.css", "/healthz",
                                  "/no-such-page", "/staff/login", "/staff/api/handoffs",
                                  "/assets/staff/staff.js"])
def test_every_web_page_carries_the_security_headers(public_bot, path):
    _, headers = request(WEB + path)
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "*" not in csp
    assert "frame-ancestors 'self'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Access-Control-Allow-Origin" not in headers


def test_every_port_listens_on_loopback_only_by_default(public_bot):
    ports = {PUBLIC_RASA_PORT, PUBLIC_ACTION_PORT, PUBLIC_RASA_PORT + 3000}
    listening = {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port in ports}
    assert {port for _, port in listening} == ports
    assert {ip for ip, _ in listening} <= {"127.0.0.1", "::1"}


def test_secrets_are_in_no_file_the_bot_writes(public_bot):
    written = [p for p in public_bot.state.rglob("*") if p.is_file()]
    assert any(p.name == "endpoints.yml" for p in written)
    for path in written:
        content = path.read_bytes()
        assert PUBLIC_LINE_SECRET.encode() not in content, path
        assert PUBLIC_LINE_TOKEN.encode() not in content, path
        assert PUBLIC_BRIDGE_TOKEN.encode() not in content, path
