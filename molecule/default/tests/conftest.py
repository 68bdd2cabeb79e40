"""Helpers shared by the scenario's testinfra tests."""

import json
import shlex
import uuid

import pytest

APP = "hello"


class Http:
    """curl run inside the host: requests go through Nginx as a browser's would."""

    def __init__(self, host):
        self.host = host

    def get(self, url, *args):
        """Returns (status, headers as a lower-case dict, body) of one request."""
        body_file = f"/tmp/http-{uuid.uuid4().hex}"
        cmd = shlex.join(["curl", "-sk", "--max-time", "10", "-D", "-", "-o", body_file, *args, url])
        out = self.host.run(f"{cmd} && cat {body_file}; rm -f {body_file}")
        assert out.rc == 0, f"curl {url} failed: {out.stderr}"
        head, _, body = out.stdout.partition("\r\n\r\n")
        lines = head.split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        return int(lines[0].split()[1]), {k: ", ".join(v) for k, v in headers.items()}, body

    def json(self, url, *args):
        status, _, body = self.get(url, *args)
        assert status == 200, (url, status, body)
        return json.loads(body)


@pytest.fixture
def http(host):
    return Http(host)
