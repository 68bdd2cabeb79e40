"""Maintenance (playbooks/maintenance.yml) and the operator's error pages,
on every host of the scenarios that run this file (molecule.yml:
additional_files_or_dirs): apache (apache + mod_wsgi, apache + gunicorn),
uwsgi (nginx + uwsgi on Debian 12 and 13) and debian13 (nginx + gunicorn,
apache + mod_wsgi). Their inventories trust a proxy on the host itself
(127.0.0.1), allow 203.0.113.0/24 through maintenance, and set the page,
its Retry-After and pages for 413 and 502.

A client is told by where it comes from: the host's own global address
(curl --resolve to it) is a client like any other; 127.0.0.1 is loopback
(the deploys' and the health checks' own address); from 127.0.0.1, an
X-Forwarded-For names a client the front end believes.
"""

import re
import uuid

import pytest
from conftest import Http, name_of, run_playbook

APP = "hello"


class Clients(Http):
    def __init__(self, host):
        super().__init__(host)
        self.address = host.check_output("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1")
        self.variables = host.ansible.get_variables()

    def from_outside(self, path, *args):
        """A request from the host's global address: no loopback, no proxy."""
        return self.get(f"https://localhost{path}", "--resolve", f"localhost:443:{self.address}", *args)

    def through_proxy(self, path, client):
        """A request the proxy on the host (trusted) forwards for client."""
        return self.get(f"https://localhost{path}", "-H", f"X-Forwarded-For: {client}")


@pytest.fixture
def clients(host):
    return Clients(host)


def maintenance(host, state):
    rc, out = run_playbook("maintenance.yml", "--limit", name_of(host), "-e", f"pydeploy_maintenance={state}")
    assert rc == 0, out[-3000:]
    return " ".join(out.split())


def test_maintenance_answers_503_with_the_page_to_all_but_loopback_and_the_allowed(host, clients):
    flag = f"/var/lib/pydeploy/maintenance/{APP}"
    page = clients.variables["pydeploy_maintenance_page"]
    try:
        out = maintenance(host, "on")
        assert f"{APP} is in maintenance: every client but loopback, 203.0.113.0/24 gets 503" in out, out[-2000:]
        assert (host.file(flag).user, host.file(flag).mode) == ("root", 0o644)
        probe = uuid.uuid4().hex
        for path in (f"/?probe={probe}", "/health", "/static/css/style.css", "/admin/"):
            status, headers, body = clients.from_outside(path)
            assert (status, headers.get("retry-after"), body.strip()) == (503, "120", page), (path, headers)
            assert headers["strict-transport-security"].startswith("max-age="), headers
        status, _, body = clients.through_proxy("/", "198.51.100.4")
        assert (status, body.strip()) == (503, page)
        # The allowed network, and loopback (a deploy's health check): the site.
        status, headers, body = clients.through_proxy("/", "203.0.113.9")
        assert status == 200 and "retry-after" not in headers and "Hello from pydeploy.wsgi" in body
        assert clients.json("https://localhost/health") == {"status": "healthy"}
        # The page is the front end's own answer: asked for, it is not there.
        assert clients.get("https://localhost/.pydeploy-pages/maintenance.html")[0] == 404
        # Going through the input checks and every role, site.yml keeps it.
        rc, out = run_playbook("site.yml", "--limit", name_of(host), "--tags", "nginx,apache")
        assert rc == 0, out[-3000:]
        assert clients.from_outside("/")[0] == 503
    finally:
        out = maintenance(host, "off")
    assert f"{APP} is out of maintenance: every client gets the site" in out
    assert not host.file(flag).exists
    status, headers, body = clients.from_outside("/")
    assert status == 200 and "retry-after" not in headers and "Hello from pydeploy.wsgi" in body
    # Asked again, nothing changes.
    assert "changed=0" in maintenance(host, "off")


def test_maintenance_asks_for_on_or_off(host):
    rc, out = run_playbook("maintenance.yml", "--limit", name_of(host), "-e", "pydeploy_maintenance=soon")
    assert rc != 0
    assert 'pydeploy_maintenance must be on or off (-e pydeploy_maintenance=on), got "soon"' in " ".join(out.split())


def error_page(clients, code):
    return {str(key): value for key, value in clients.variables["pydeploy_error_pages"].items()}[str(code)]


def test_a_body_too_large_gets_the_operators_413_page(host, clients):
    # pydeploy_error_pages: the front end's own 413 (a body over the
    # inventory's 1m), in the operator's HTML.
    host.check_output("head -c 2000000 /dev/zero > /tmp/too-large.bin")
    status, _, body = clients.get("https://localhost/upload", "--http1.1", "-X", "POST", "-H", "Content-Type: application/octet-stream",
                                  "--data-binary", "@/tmp/too-large.bin")
    assert (status, body.strip()) == (413, error_page(clients, 413))


def test_the_operators_502_page_is_written_and_named_in_the_configuration(host, clients):
    page = error_page(clients, 502)
    front_end = clients.variables.get("pydeploy_front_end", "nginx")
    folder = {"nginx": "/etc/nginx", "apache": "/etc/apache2"}[front_end]
    written = host.file(f"{folder}/pydeploy-{APP}-pages/502.html")
    assert (written.user, written.mode, written.content_string.strip()) == ("root", 0o644, page)
    site = host.file(f"{folder}/sites-available/{APP}.conf").content_string
    assert re.search(r"(error_page|ErrorDocument) 502 /\.pydeploy-pages/502\.html", site), site
    # No page for 504: none written, none named.
    assert not host.file(f"{folder}/pydeploy-{APP}-pages/504.html").exists and " 504 " not in site
