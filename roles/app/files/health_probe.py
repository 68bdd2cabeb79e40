"""Health probe run on the host by the app role.

GETs a path over the app's unix socket once a second until it answers 200,
the timeout runs out, or the systemd unit serving it stops. Prints one JSON
object: {"ok", "status", "body", "reason", "seconds"}; exits 0 when healthy.

argv: socket path, HTTP path, Host header, timeout in seconds, unit name ("" for none)
"""

import http.client
import json
import socket
import subprocess
import sys
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def unit_stopped(unit):
    if not unit:
        return False
    state = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True, check=False).stdout.strip()
    return state not in ("active", "activating", "reloading")


def main(sock_path, path, host, timeout, unit):
    start = time.monotonic()
    deadline = start + float(timeout)
    result = {"ok": False, "status": None, "body": "", "reason": "no answer within the timeout"}
    while True:
        try:
            conn = UnixHTTPConnection(sock_path, timeout=5)
            conn.request("GET", path, headers={"Host": host, "X-Forwarded-Proto": "https"})
            answer = conn.getresponse()
            result.update(status=answer.status, body=answer.read(300).decode("utf-8", "replace"))
            conn.close()
            if answer.status == 200:
                result.update(ok=True, reason="healthy")
                break
            result["reason"] = f"answered HTTP {answer.status}"
        except OSError as error:
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
    sys.exit(main(*sys.argv[1:6]))
