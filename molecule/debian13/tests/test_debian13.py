"""What differs on Debian 13 (vars/Debian-13.yml of the roles), checked on
its own hosts: the front ends' configuration passes their own test without
a warning (Nginx 1.26 warns of the listen directive's http2 flag, and stops
at a server_tokens set twice), and HTTP/2 is offered."""

import pytest


@pytest.fixture
def front_end(host):
    return host.ansible.get_variables().get("pydeploy_front_end", "nginx")


def test_the_front_end_configuration_passes_its_test_without_warnings(host, front_end):
    command = {"nginx": "nginx -t", "apache": "apachectl configtest"}[front_end]
    out = host.run(command)
    assert out.rc == 0, out.stderr
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    if front_end == "nginx":
        assert [line for line in lines if "[warn]" in line or "[emerg]" in line] == []
        assert any("syntax is ok" in line for line in lines), lines
    else:
        assert lines == ["Syntax OK"]


def test_http2_is_offered(host):
    out = host.run("curl -sk --http2 -o /dev/null -w '%{http_version}' https://localhost/health")
    assert out.rc == 0 and out.stdout == "2", out.stdout + out.stderr
