#!/usr/bin/python
# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: health_check
short_description: Wait for a WSGI app to answer its health check, on a socket or through a front end
description:
  - Sends C(GET path) once a second until the answer is HTTP 200, O(timeout) runs out,
    or the systemd O(unit) serving the endpoint stops.
  - The endpoint is the app server's own Unix socket (HTTP, or uWSGI's own protocol as
    Nginx speaks it with C(uwsgi_pass)), or a front end on this host over HTTP or HTTPS.
    Over HTTPS, O(host) is also the TLS name, and the certificate must be the one in
    O(ca_file), trusted as it is (a self-signed or not yet issued certificate passes,
    another one does not).
  - Fails when no healthy answer came, with the last answer in the result.
  - Sends nothing but to the given endpoint, which is on the managed host.
version_added: 0.1.0
author: pydeploy.wsgi contributors (@pydeploy)
options:
  endpoint:
    description:
      - V(unix:<socket>) (HTTP on a Unix socket), V(uwsgi:<socket>) (uWSGI's protocol on a Unix
        socket; sent as HTTPS from 127.0.0.1), V(http://<address>:<port>) or V(https://<address>:<port>).
    type: str
    required: true
  path:
    description: The HTTP path asked for.
    type: str
    default: /
  host:
    description: The Host header, and over HTTPS the TLS name (SNI and the certificate check).
    type: str
    default: localhost
  timeout:
    description: Seconds to wait for a healthy answer.
    type: int
    default: 30
  unit:
    description:
      - The systemd unit serving the endpoint; when it stops the check gives up at once.
      - Empty for none.
    type: str
    default: ""
  ca_file:
    description:
      - HTTPS only, required there. The certificate (or a CA) the front end's certificate
        must chain to.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Sends requests only; changes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Wait for the app server's socket to answer
  pydeploy.wsgi.health_check:
    endpoint: unix:/run/hello/gunicorn.sock
    path: /health
    timeout: 60
    unit: hello.service

- name: Wait for uWSGI's socket to answer, in its own protocol
  pydeploy.wsgi.health_check:
    endpoint: uwsgi:/run/hello/uwsgi.sock
    path: /health
    unit: hello.service

- name: Check the app through Nginx with its own certificate
  pydeploy.wsgi.health_check:
    endpoint: https://127.0.0.1:443
    path: /health
    host: hello.example.org
    ca_file: /etc/ssl/pydeploy/hello.example.org.crt
"""

RETURN = r"""
ok:
  description: Whether the answer was healthy (HTTP 200).
  returned: always
  type: bool
status:
  description: The last answer's HTTP status, null when nothing answered.
  returned: always
  type: int
body:
  description: The start (300 bytes) of the last answer's body.
  returned: always
  type: str
reason:
  description: In words, the last answer or why none came.
  returned: always
  type: str
  sample: answered HTTP 502
seconds:
  description: How long the check took.
  returned: always
  type: float
"""

import http.client
import socket
import ssl
import time
import urllib.parse

from ansible.module_utils.basic import AnsibleModule


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class TLSConnection(http.client.HTTPConnection):
    """HTTPS to an address, with the Host's name as the TLS name."""

    def __init__(self, address, port, name, context):
        super().__init__(address, port, timeout=5)
        self.name = name
        self.context = context

    def connect(self):
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.name)


class UwsgiConnection:
    """One request in uWSGI's protocol on a Unix socket, as Nginx's uwsgi_pass
    sends it (the variables of uwsgi_params, HTTPS on); the answer is HTTP."""

    def __init__(self, path, timeout):
        self.unix_path = path
        self.timeout = timeout
        self.sock = None

    def request(self, method, path, headers):
        target = urllib.parse.urlsplit(path)
        variables = {
            "REQUEST_METHOD": method,
            "REQUEST_URI": path,
            "PATH_INFO": target.path,
            "QUERY_STRING": target.query,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_SCHEME": "https",
            "HTTPS": "on",
            "SERVER_NAME": headers["Host"],
            "SERVER_PORT": "443",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "0",
        }
        for name, value in headers.items():
            variables["HTTP_" + name.upper().replace("-", "_")] = value
        body = b"".join(
            len(part).to_bytes(2, "little") + part
            for name, value in variables.items()
            for part in (name.encode("latin-1"), value.encode("latin-1"))
        )
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)
        # modifier1 0 (WSGI), the size of the variables, modifier2 0.
        self.sock.sendall(b"\x00" + len(body).to_bytes(2, "little") + b"\x00" + body)

    def getresponse(self):
        answer = http.client.HTTPResponse(self.sock)
        answer.begin()
        return answer

    def close(self):
        if self.sock is not None:
            self.sock.close()


def connection(endpoint, host, ca_file):
    if endpoint.startswith("uwsgi:"):
        return UwsgiConnection(endpoint[len("uwsgi:"):], timeout=5)
    if endpoint.startswith("unix:"):
        return UnixHTTPConnection(endpoint[len("unix:"):], timeout=5)
    url = urllib.parse.urlsplit(endpoint)
    if url.scheme == "http":
        return http.client.HTTPConnection(url.hostname, url.port or 80, timeout=5)
    context = ssl.create_default_context(cafile=ca_file)
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return TLSConnection(url.hostname, url.port or 443, host, context)


def unit_stopped(module, unit):
    if not unit:
        return False
    _rc, out, _err = module.run_command(["systemctl", "is-active", unit])
    return out.strip() not in ("active", "activating", "reloading")


def probe(module, endpoint, path, host, timeout, unit, ca_file):
    start = time.monotonic()
    deadline = start + timeout
    result = {"ok": False, "status": None, "body": "", "reason": "no answer within the timeout"}
    while True:
        try:
            conn = connection(endpoint, host, ca_file)
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
        if unit_stopped(module, unit):
            result["reason"] += f"; {unit} stopped"
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(1)
    result["seconds"] = round(time.monotonic() - start, 1)
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "endpoint": {"type": "str", "required": True},
            "path": {"type": "str", "default": "/"},
            "host": {"type": "str", "default": "localhost"},
            "timeout": {"type": "int", "default": 30},
            "unit": {"type": "str", "default": ""},
            "ca_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    endpoint = params["endpoint"]
    scheme = urllib.parse.urlsplit(endpoint).scheme
    if not (endpoint.startswith(("unix:/", "uwsgi:/")) or scheme in ("http", "https")):
        module.fail_json(
            msg=f"endpoint {endpoint!r}: use unix:<socket>, uwsgi:<socket>, http://<address>:<port> or https://<address>:<port>"
        )
    if scheme == "https" and not params["ca_file"]:
        module.fail_json(msg="ca_file is required for an https endpoint")
    if not params["path"].startswith("/"):
        module.fail_json(msg=f"path {params['path']!r} must start with /")
    result = probe(module, endpoint, params["path"], params["host"], params["timeout"], params["unit"], params["ca_file"])
    if not result["ok"]:
        module.fail_json(msg=f"{endpoint} {params['path']}: {result['reason']}", **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
