"""A WebSocket echo at /ws/echo, in plain WSGI: what a chat or a live view
needs from the stack (the front end's Upgrade, a connection held open), with
no library beyond the standard one.

Gunicorn hands the app its client socket (``gunicorn.socket``); the
handshake and the frames (RFC 6455) are answered on it, then the request
ends with StopIteration, which Gunicorn takes as "the app closed the
connection itself". Other servers answer 501.
"""

import base64
import hashlib
import json
import platform
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PATH = "/ws/echo"
# Bounds: messages a connection, bytes a message, seconds to wait for one.
MAX_MESSAGES = 100
MAX_BYTES = 65536
IDLE_SECONDS = 30


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def recv_exact(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the client went away")
        data += chunk
    return data


def read_frame(sock):
    """(opcode, payload) of one frame: masked (from a client) or not."""
    first, second = recv_exact(sock, 2)
    opcode, length = first & 0x0F, second & 0x7F
    if length == 126:
        length = struct.unpack("!H", recv_exact(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", recv_exact(sock, 8))[0]
    if length > MAX_BYTES:
        raise ValueError("message too large")
    mask = recv_exact(sock, 4) if second & 0x80 else b"\0\0\0\0"
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(recv_exact(sock, length)))


def frame(opcode, payload, mask=None):
    """One final frame; a client's is masked with the 4 bytes of `mask`."""
    size = len(payload)
    flag = 0x80 if mask else 0
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, flag | size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, flag | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, flag | 127, size)
    if mask:
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def handshake(sock, path, host, key):
    """A client's side: sends the Upgrade request, reads the answer's head;
    returns (status line, headers as a lower-case dict)."""
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += recv_exact(sock, 1)
    status, *lines = head.decode("latin-1").split("\r\n")
    fields = (line.split(":", 1) for line in lines if ":" in line)
    return status, {name.strip().lower(): value.strip() for name, value in fields}


def echo(sock, key, version):
    sock.sendall(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
        ).encode()
    )
    sock.settimeout(IDLE_SECONDS)
    for _message in range(MAX_MESSAGES):
        opcode, payload = read_frame(sock)
        if opcode == 0x8:  # close: answered with a close
            sock.sendall(frame(0x8, payload[:2]))
            return
        if opcode == 0x9:  # ping
            sock.sendall(frame(0xA, payload))
            continue
        if opcode == 0x1:
            answer = {"echo": payload.decode("utf-8", "replace"), "version": version, "server": platform.node()}
            sock.sendall(frame(0x1, json.dumps(answer).encode()))
    sock.sendall(frame(0x8, struct.pack("!H", 1008)))


class WebSocketEcho:
    """WSGI middleware: /ws/echo with an Upgrade is a WebSocket echo; the
    rest goes to the app."""

    def __init__(self, app, version):
        self.app = app
        self.version = version

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            return self.app(environ, start_response)
        key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "")
        sock = environ.get("gunicorn.socket")
        if not key or environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13":
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"a WebSocket handshake needs Sec-WebSocket-Key and version 13\n"]
        if sock is None:
            start_response("501 Not Implemented", [("Content-Type", "text/plain")])
            return [b"this example's WebSocket needs Gunicorn\n"]
        try:
            echo(sock, key, self.version)
        except (OSError, ValueError):
            pass
        # The connection was the WebSocket's: Gunicorn writes no answer.
        raise StopIteration()
