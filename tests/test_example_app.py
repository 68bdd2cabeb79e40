"""The example app behaves as the README and the scenarios expect."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "examples" / "flask_app"))
from hello import create_app  # noqa: E402


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("APP_VERSION", "9.9.9")
    return create_app().test_client()


def test_index_renders_the_template_with_the_version(client):
    page = client.get("/")
    assert page.status_code == 200
    assert b'<dd id="version">9.9.9</dd>' in page.data
    assert b"/static/css/style.css" in page.data


def test_health_and_ready(client):
    assert client.get("/health").json == {"status": "healthy"}
    assert client.get("/ready").json["status"] == "ready"


def test_proxy_headers_are_trusted_for_one_hop(client):
    seen = client.get(
        "/whoami",
        headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.2", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.org"},
    ).json
    # One proxy: only the address it appended (the last) is trusted.
    assert seen["remote_addr"] == "198.51.100.2"
    assert seen["scheme"] == "https"
    assert seen["host"] == "example.org"


def test_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_login_refuses_unknown_credentials(client):
    assert client.get("/login").status_code == 200
    assert client.post("/login", data={"username": "a", "password": "b"}).status_code == 401


def test_admin_names_the_user_the_front_end_let_through(client):
    assert client.get("/admin/").get_json() == {"page": "admin", "user": None}
    seen = client.get("/admin/", headers={"Authorization": "Basic YWRtaW46c2VjcmV0"}).get_json()
    assert seen == {"page": "admin", "user": "admin"}


def test_upload_keeps_the_file_in_the_upload_folder_under_a_safe_name(client, monkeypatch, tmp_path):
    import io

    assert client.post("/upload", data={"file": (io.BytesIO(b"x"), "a.txt")}).status_code == 404
    monkeypatch.setenv("UPLOAD_FOLDER", str(tmp_path))
    sent = client.post("/upload", data={"file": (io.BytesIO(b"hello upload"), "../../etc/notes 1.txt")})
    assert sent.status_code == 201, sent.json
    # werkzeug's secure_filename: no folder of the sender's, no space.
    assert sent.json == {"name": "etc_notes_1.txt", "url": "/uploads/etc_notes_1.txt"}
    assert (tmp_path / "etc_notes_1.txt").read_bytes() == b"hello upload"
    assert [path.name for path in tmp_path.iterdir()] == ["etc_notes_1.txt"]
    assert client.post("/upload", data={}).status_code == 400


def test_websocket_echo_answers_the_handshake_and_each_message(monkeypatch):
    # Gunicorn's side of the connection is one end of a socket pair; the
    # client (hello.websocket's own helpers) is the other.
    import base64
    import json
    import socket
    import threading

    from hello import websocket

    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("APP_VERSION", "9.9.9")
    app = create_app()
    server, client = socket.socketpair()
    key = base64.b64encode(b"0123456789abcdef").decode()
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/ws/echo", "SERVER_NAME": "localhost", "SERVER_PORT": "443",
        "wsgi.url_scheme": "https", "HTTP_UPGRADE": "websocket", "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": key, "HTTP_SEC_WEBSOCKET_VERSION": "13", "gunicorn.socket": server,
    }
    ended = []

    def serve():
        try:
            app(environ, lambda *a: None)
        except StopIteration:
            ended.append("StopIteration")

    thread = threading.Thread(target=serve)
    thread.start()
    client.settimeout(10)
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += websocket.recv_exact(client, 1)
    head = head.decode()
    assert head.startswith("HTTP/1.1 101 Switching Protocols\r\n"), head
    # RFC 6455's own example: this key gives this accept value.
    assert websocket.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert f"Sec-WebSocket-Accept: {websocket.accept_key(key)}\r\n" in head
    for text in ("hello", "x" * 300):
        client.sendall(websocket.frame(0x1, text.encode(), mask=b"\x01\x02\x03\x04"))
        opcode, payload = websocket.read_frame(client)
        assert opcode == 0x1
        answer = json.loads(payload)
        assert answer["echo"] == text and answer["version"] == "9.9.9"
    client.sendall(websocket.frame(0x8, b"\x03\xe8", mask=b"\x05\x06\x07\x08"))
    assert websocket.read_frame(client) == (0x8, b"\x03\xe8")
    thread.join(10)
    # The request ends as Gunicorn expects of an app that took the connection.
    assert ended == ["StopIteration"]
    # Without Gunicorn's socket: a clear 501, no hang.
    del environ["gunicorn.socket"]
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
    answer = app.test_client().get("/ws/echo", headers=upgrade)
    assert answer.status_code == 501
