"""Health probe run on the host by the app role.

GETs a path once a second until it answers 200, the timeout runs out, or
the systemd unit serving it stops. The endpoint is "unix:<socket>" (the app
server's own socket), "http://<address>:<port>" or "https://<address>:<port>"
(a front end on this host). Over HTTPS the Host is also the TLS name, and the
certificate must be the one in the given file (the front end's own, trusted
as it is: a self-signed or not-yet-issued one passes, another does not).
Prints one JSON object: {"ok", "status", "body", "reason", "seconds"}; exits
0 when healthy.

argv: endpoint, HTTP path, Host header, timeout in seconds, unit name ("" for
none), certificate file (https only)
"""

import http.client
import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class TLSConnection(http.client.HTTPConnection):
    """HTTPS to an address, with the Host's name as the TLS name (SNI and the
    certificate check)."""

    def __init__(self, address, port, name, context):
        super().__init__(address, port, timeout=5)
        self.name = name
        self.context = context

    def connect(self):
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.name)


def connection(endpoint, host, ca_file):
    if endpoint.startswith("unix:"):
        return UnixHTTPConnection(endpoint[len("unix:"):], timeout=5)
    url = urllib.parse.urlsplit(endpoint)
    if url.scheme == "http":
        return http.client.HTTPConnection(url.hostname, url.port or 80, timeout=5)
    if url.scheme == "https":
        context = ssl.create_default_context(cafile=ca_file)
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        return TLSConnection(url.hostname, url.port or 443, host, context)
    raise ValueError(f"unknown endpoint {endpoint!r}: use unix:<socket>, http:// or https://")


def unit_stopped(unit):
    if not unit:
        return False
    state = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True, check=False).stdout.strip()
    return state not in ("active", "activating", "reloading")


def main(endpoint, path, host, timeout, unit, ca_file=""):
    start = time.monotonic()
    deadline = start + float(timeout)
    result = {"ok": False, "status": None, "body": "", "reason": "no answer within the timeout"}
    while True:
        try:
            conn = connection(endpoint, host, ca_file or None)
            conn.request("GET", path, headers={"Host": host, "X-Forwarded-Proto": "https"})
            answer = conn.getresponse()
            result.update(status=answer.status, body=answer.read(300).decode("utf-8", "replace"))
            conn.close()
            if answer.status == 200:
                result.update(ok=True, reason="healthy")
                break
            result["reason"] = f"answered HTTP {answer.status}"
        except (OSError, http.client.HTTPException) as error:
            result["reason"] = f"no answer ({error.__class__.__name__}: {error})"
        if unit_stopped(unit):
            result["reason"] += f"; {unit} stopped"
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(1)
    result["seconds"] = round(time.monotonic() - start, 1)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:7]))
