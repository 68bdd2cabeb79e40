"""One balancer, three app hosts, in file order (the deploys build on each
other): the balancer spreads requests and leaves a stopped app host out,
the app port is on the private network only, static files come through the
balancer with their cache headers, then deploy.yml rolls v2 host by host
and a v3 that fails on the first host, each under scripts/load's request
stream from the controller (127.0.0.1:18460, the balancer's published
port), which must see no failed request.

The tests run once, on the balancer; the app hosts are reached by name.
"""

import base64
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid

import pytest
from conftest import APP, EXAMPLE, hosts_named, make_version, run_playbook

sys.path.insert(0, str(EXAMPLE))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "_shared", "tests"))
import readme_steps  # noqa: E402
from hello import websocket  # noqa: E402

testinfra_hosts = ["ansible://pydeploy-lb"]

APP_HOSTS = {"pydeploy-app1": "10.231.37.11", "pydeploy-app2": "10.231.37.12", "pydeploy-app3": "10.231.37.13"}
LB_ADDRESS = "10.231.37.10"
PORT = 8000
URL = "https://127.0.0.1:18460/whoami"
LOAD = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "scripts", "load")
SITE = f"/etc/nginx/sites-available/{APP}.conf"


@pytest.fixture(scope="module")
def app_hosts():
    return hosts_named(APP_HOSTS)


@pytest.fixture(scope="module")
def ca_file(host, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "pydeploy-ca.crt"
    path.write_text(host.file("/etc/ssl/pydeploy/pydeploy-ca.crt").content_string)
    return str(path)


def load(ca_file, *args):
    """scripts/load to the end; returns its figures."""
    out = subprocess.run(
        [LOAD, "--url", URL, "--ca-file", ca_file, "--json", *args], capture_output=True, text=True, timeout=900, check=False
    )
    assert out.stdout, out.stderr
    return json.loads(out.stdout)


def print_load(capsys, what, figures):
    with capsys.disabled():
        print(f"\n  {what}: {figures['requests']} requests in {figures['seconds']} s, {figures['failures']} failed")
        for seen in figures["versions"]:
            print(f"    version {seen['version']}: requests {seen['first']} to {seen['last']} ({seen['answers']} answers)")
        print(f"    answers per app host: {figures['servers']}")
        for failure in figures["first_failures"]:
            print(f"    failure: {failure}")


def deploy_under_load(ca_file, tmp_path, *args):
    """deploy.yml with scripts/load running meanwhile (bounded: 15 minutes,
    100000 requests); returns (exit code, output, the load's figures).
    Two clients, each a new connection every 50 ms or so: a gap in service
    longer than that is seen, and the TLS handshakes leave the 2 cores to
    the deploy being watched."""
    stop = tmp_path / "stop"
    stream = subprocess.Popen(
        [LOAD, "--url", URL, "--ca-file", ca_file, "--json", "--seconds", "900", "--requests", "100000", "--stop-file", str(stop),
         "--concurrency", "2", "--pause", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)
        rc, out = run_playbook("deploy.yml", *args)
        time.sleep(2)
    finally:
        stop.touch()
        stdout, stderr = stream.communicate(timeout=60)
    assert stdout, stderr
    return rc, out, json.loads(stdout)


def current_release(one):
    return one.file(f"/srv/{APP}/current").linked_to.rsplit("/", 1)[-1]


def listening(one, port):
    """The local addresses (hex, as /proc/net/tcp has them) listening on port."""
    rows = one.check_output("cat /proc/net/tcp /proc/net/tcp6").splitlines()[1:]
    return {row.split()[1].rsplit(":", 1)[0] for row in rows if row.split()[3] == "0A" and row.split()[1].endswith(f":{port:04X}")}


def hex_address(address):
    return "".join(f"{int(part):02X}" for part in reversed(address.split(".")))


def test_balancer_spreads_requests_over_every_app_host(host, ca_file, capsys):
    upstream = host.file(SITE).content_string
    for address in APP_HOSTS.values():
        assert re.search(rf"^\s*server {re.escape(address)}:{PORT} max_fails=3 fail_timeout=10s;$", upstream, re.M), upstream
    assert re.search(r"^\s*keepalive \d+;$", upstream, re.M)
    figures = load(ca_file, "--requests", "300", "--seconds", "60")
    print_load(capsys, "through the balancer", figures)
    assert figures["failures"] == 0
    assert sorted(figures["servers"]) == sorted(APP_HOSTS)
    # Round robin: each host a third, give or take.
    assert all(count >= 60 for count in figures["servers"].values()), figures["servers"]


def test_app_port_is_on_the_private_network_only(host, app_hosts):
    public = {}
    for name, one in app_hosts.items():
        # Listening on the private address alone; no Nginx on an app host.
        assert listening(one, PORT) == {hex_address(APP_HOSTS[name])}, name
        assert not one.service("nginx").is_running
        public[name] = one.check_output("hostname -I").split()[0]
        assert public[name] != APP_HOSTS[name]
    # From the balancer: the private address answers, the public one is refused.
    for name, address in APP_HOSTS.items():
        ok = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' -H 'Host: localhost' http://{address}:{PORT}/health")
        assert ok.stdout == "200", (name, ok.stdout, ok.stderr)
        refused = host.run(f"curl -s -o /dev/null --max-time 5 http://{public[name]}:{PORT}/health")
        # Nothing listens there (refused); on pydeploy-app1 its firewall drops
        # the attempt first (no answer).
        expected = 28 if name == "pydeploy-app1" else 7
        assert refused.rc == expected, (name, refused.rc, "expected: no answer" if expected == 28 else "expected: connection refused")
    # The balancer runs no app server.
    assert not host.file(f"/srv/{APP}").exists


def test_app_port_takes_the_balancers_alone(host, app_hosts):
    # Every app host's socket lets the balancer and the host itself alone
    # connect (the kernel's cgroup socket filter); pydeploy-app1's firewall
    # (pydeploy_firewall) says the same in nftables. Another host of the
    # private network, no balancer, gets no answer; the balancer does.
    for name, one in app_hosts.items():
        unit = one.file(f"/etc/systemd/system/{APP}.socket").content_string
        assert re.search(r"^IPAddressDeny=any$", unit, re.M), (name, unit)
        own = re.escape(APP_HOSTS[name])
        assert re.search(rf"^IPAddressAllow=localhost {own} {re.escape(LB_ADDRESS)}$", unit, re.M), (name, unit)
    neighbour = app_hosts["pydeploy-app2"]
    for name in ("pydeploy-app1", "pydeploy-app3"):
        dropped = neighbour.run(f"curl -s -o /dev/null --max-time 5 -H 'Host: localhost' http://{APP_HOSTS[name]}:{PORT}/health")
        assert dropped.rc == 28, (name, dropped.rc, dropped.stdout, "expected: no answer (dropped)")
        ok = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 -H 'Host: localhost' http://{APP_HOSTS[name]}:{PORT}/health")
        assert ok.stdout == "200", (name, ok.stdout, ok.stderr)
    # The host itself, on its own private address (its checks).
    itself = neighbour.run(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 -H 'Host: localhost' http://{APP_HOSTS['pydeploy-app2']}:{PORT}/health")
    assert itself.stdout == "200", itself
    # The firewall's rule: the app port from the balancer alone.
    rules = app_hosts["pydeploy-app1"].check_output("nft list table inet pydeploy")
    assert re.search(rf"tcp dport {PORT} ip saddr (\{{ )?{re.escape(LB_ADDRESS)}( \}})? accept", rules), rules


def test_balancer_leaves_a_stopped_app_host_out(host, app_hosts, ca_file, capsys):
    stopped = app_hosts["pydeploy-app2"]
    stopped.check_output(f"systemctl stop {APP}.socket {APP}.service")
    try:
        figures = load(ca_file, "--requests", "200", "--seconds", "60")
        print_load(capsys, "with pydeploy-app2 stopped", figures)
        # Refused connections are retried on the next host: no client sees one.
        assert figures["failures"] == 0
        assert sorted(figures["servers"]) == ["pydeploy-app1", "pydeploy-app3"]
    finally:
        stopped.check_output(f"systemctl start {APP}.socket")
    # Back in once its fail_timeout (10 s) has passed: bounded wait.
    for _ in range(12):
        figures = load(ca_file, "--requests", "60", "--seconds", "30")
        if "pydeploy-app2" in figures["servers"]:
            break
        time.sleep(2)
    assert "pydeploy-app2" in figures["servers"], figures
    assert figures["failures"] == 0


def test_static_files_come_through_the_balancer_cached_for_a_year(host, app_hosts):
    css = (EXAMPLE / "hello" / "static" / "css" / "style.css").read_text()
    status = host.run(
        "curl -s -o /tmp/style.css -D /tmp/style.head -w '%{http_code}' --cacert /etc/ssl/pydeploy/pydeploy-ca.crt https://localhost/static/css/style.css"
    )
    assert status.stdout == "200"
    head = host.file("/tmp/style.head").content_string.lower()
    assert host.file("/tmp/style.css").content_string == css
    # Nginx's header, the app's own Cache-Control hidden: one, immutable.
    assert head.count("cache-control:") == 1, head
    assert "cache-control: public, max-age=31536000, immutable" in head, head
    # The files are the app hosts' (the balancer has no release).
    assert not host.file(f"/srv/{APP}/current").exists


def test_the_balancer_redirects_the_sites_other_names_to_its_canonical_name(host):
    # The balancer faces the clients (pydeploy_canonical_name: localhost):
    # www.localhost, on its certificate, gets a permanent redirect there,
    # path and query kept; the site's own name is served.
    curl = ("curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 10 --cacert /etc/ssl/pydeploy/pydeploy-ca.crt"
            " --resolve www.localhost:443:127.0.0.1")
    assert host.check_output(f"{curl} 'https://www.localhost/static/x?y=1&z=2'") == "301 https://localhost/static/x?y=1&z=2"
    assert host.check_output(f"{curl} https://localhost/health").split() == ["200"]


def test_the_balancer_asks_for_a_user_before_the_app_hosts_see_the_request(host, app_hosts):
    # pydeploy_basic_auth on a split stack: the balancer faces the clients,
    # keeps the password file (hashed) and passes only requests it let through.
    curl = "curl -s --max-time 10 --cacert /etc/ssl/pydeploy/pydeploy-ca.crt"
    assert host.check_output(f"{curl} -o /dev/null -w '%{{http_code}}' https://localhost/admin/") == "401"
    assert host.check_output(f"{curl} -o /dev/null -w '%{{http_code}}' -u admin:wrong https://localhost/admin/") == "401"
    seen = json.loads(host.check_output(f"{curl} -u admin:cluster-scenario-admin-password https://localhost/admin/"))
    assert seen == {"page": "admin", "user": "admin"}
    users = host.file(f"/etc/nginx/pydeploy-{APP}.htpasswd")
    assert (users.user, users.group, users.mode) == ("root", "www-data", 0o640)
    assert users.content_string.startswith("admin:$6$") and "cluster-scenario-admin-password" not in users.content_string
    # The app hosts run no front end: no password file there.
    for app_host in app_hosts.values():
        assert not app_host.file(f"/etc/nginx/pydeploy-{APP}.htpasswd").exists


def test_the_balancer_holds_the_operators_snippets(host, app_hosts):
    # nginx_snippets on a split stack: the balancer faces the clients, so the
    # robots header and the hotlink check are its; a refused /static/ request
    # never reaches an app host, an allowed one does (the app serves the files).
    curl = "curl -s -o /dev/null --max-time 10 --cacert /etc/ssl/pydeploy/pydeploy-ca.crt"
    assert host.check_output(f"{curl} -D - https://localhost/ | grep -i '^x-robots-tag:'").split(":", 1)[1].strip() == "noindex, nofollow"
    assert host.check_output(f"{curl} -D - -A GoodBot/2.1 https://localhost/ | grep -i '^x-robots-tag:'").split(":", 1)[1].strip() == "all"
    probe = uuid.uuid4().hex
    css = f"https://localhost/static/css/style.css?probe={probe}"
    assert host.check_output(f"{curl} -w '%{{http_code}}' -e https://hotlinker.example/ '{css}'") == "403"
    assert host.check_output(f"{curl} -w '%{{http_code}}' -e https://localhost/page '{css}&own=1'") == "200"
    logs = " ".join(app_host.file(f"/var/log/{APP}/access.log").content_string for app_host in app_hosts.values())
    assert f"probe={probe}&own=1" in logs and f"probe={probe} " not in logs
    for app_host in app_hosts.values():
        assert not app_host.file(f"/etc/nginx/sites-available/{APP}.conf").exists


def test_maintenance_is_the_balancers(host, app_hosts):
    # maintenance.yml on a split stack: the balancer answers 503 with the
    # page to a client from outside and the site to loopback and to the
    # allowed network (through the proxy it trusts); the app hosts keep no flag.
    address = host.check_output("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1")
    curl = "curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert /etc/ssl/pydeploy/pydeploy-ca.crt"
    rc, out = run_playbook("maintenance.yml", "-e", "pydeploy_maintenance=on")
    assert rc == 0, out[-3000:]
    try:
        assert host.check_output(f"{curl} --resolve localhost:443:{address} https://localhost/") == "503"
        assert host.check_output(f"{curl} https://localhost/health") == "200"
        assert host.check_output(f"{curl} -H 'X-Forwarded-For: 203.0.113.9' https://localhost/") == "200"
        assert host.check_output(f"{curl} -H 'X-Forwarded-For: 198.51.100.4' https://localhost/") == "503"
        for app_host in app_hosts.values():
            assert not app_host.file(f"/var/lib/pydeploy/maintenance/{APP}").exists
    finally:
        rc, out = run_playbook("maintenance.yml", "-e", "pydeploy_maintenance=off")
        assert rc == 0, out[-3000:]
    assert host.check_output(f"{curl} --resolve localhost:443:{address} https://localhost/") == "200"


def test_the_app_hosts_see_the_client_the_balancer_found(host):
    # pydeploy_trusted_proxies: [127.0.0.1] on the balancer. From it, the
    # client is the last X-Forwarded-For address that is not its own; from
    # the balancer's network address, which is no trusted proxy, the header
    # counts for nothing. The app hosts trust the balancer alone.
    address = host.check_output("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1")
    curl = "curl -s --max-time 10 --cacert /etc/ssl/pydeploy/pydeploy-ca.crt -H 'X-Forwarded-For: 198.51.100.4, 203.0.113.7'"
    assert json.loads(host.check_output(f"{curl} https://localhost/whoami"))["remote_addr"] == "203.0.113.7"
    seen = json.loads(host.check_output(f"{curl} --resolve localhost:443:{address} https://localhost/whoami"))
    assert seen["remote_addr"] == address


def test_websocket_echo_through_the_balancer(ca_file):
    # From the controller over TLS to the balancer's published port, through
    # its /ws/ location to a Gunicorn sync worker on an app host.
    context = ssl.create_default_context(cafile=ca_file)
    with context.wrap_socket(socket.create_connection(("127.0.0.1", 18460), timeout=10), server_hostname="localhost") as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        status, headers = websocket.handshake(sock, "/ws/echo", "localhost", key)
        assert status == "HTTP/1.1 101 Switching Protocols", (status, headers)
        assert headers["sec-websocket-accept"] == websocket.accept_key(key)
        servers = set()
        for text in ("one", "two" * 100):
            sock.sendall(websocket.frame(0x1, text.encode(), mask=os.urandom(4)))
            opcode, payload = websocket.read_frame(sock)
            answer = json.loads(payload)
            assert (opcode, answer["echo"], answer["version"]) == (0x1, text, "1.0.0")
            servers.add(answer["server"])
        # One connection, one app host.
        assert len(servers) == 1 and servers <= set(APP_HOSTS), servers
        sock.sendall(websocket.frame(0x8, b"\x03\xe8", mask=os.urandom(4)))
        assert websocket.read_frame(sock) == (0x8, b"\x03\xe8")


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    base = tmp_path_factory.mktemp("versions")
    return {"v2": make_version(base, "2.0.0"), "v3": make_version(base, "3.0.0", broken=True), "v4": make_version(base, "4.0.0")}


def test_rolling_deploy_of_v2_drops_no_request(host, app_hosts, ca_file, versions, tmp_path, capsys):
    # Built by this roll, not found from an earlier run of the scenario.
    shutil.rmtree(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "controller-cache", "wheelhouse"), ignore_errors=True)
    rc, out, figures = deploy_under_load(ca_file, tmp_path, "-e", f"app_src={versions['v2']}")
    print_load(capsys, "deploy.yml v1 -> v2, one app host at a time", figures)
    assert rc == 0, out[-3000:]
    assert figures["failures"] == 0, figures["first_failures"]
    assert [seen["version"] for seen in figures["versions"]] == ["1.0.0", "2.0.0"]
    # One host at a time, each taken out and put back, in inventory order.
    marks = re.findall(r"TASK \[Mark the host in the balancers' upstream: (down|up)\] \**\n(?:changed|ok): \[(pydeploy-app\d) -> pydeploy-lb\]", out)
    assert marks == [(state, name) for name in sorted(APP_HOSTS) for state in ("down", "up")], marks
    assert " down;" not in host.file(SITE).content_string
    # Every host on the same release, migrated once in the whole roll.
    releases = {name: current_release(one) for name, one in app_hosts.items()}
    assert len(set(releases.values())) == 1, releases
    release = releases["pydeploy-app1"]
    migrated = sum(one.file(f"/srv/{APP}/shared/data/migrations.log").content_string.split().count(release) for one in app_hosts.values() if one.file(f"/srv/{APP}/shared/data/migrations.log").exists)
    assert migrated == 1, migrated
    # The dependencies built once, on the first app host as the app user,
    # for the three hosts: the later ones (batches of their own) find the
    # wheelhouse on the controller.
    builds = re.findall(r"TASK \[pydeploy\.wsgi\.app : Build the wheels as the app user\] \**\n(changed|ok|skipping): \[(pydeploy-app\d)\]", out)
    assert builds == [("changed", "pydeploy-app1")], builds
    found = re.findall(r"TASK \[pydeploy\.wsgi\.app : Look for the wheelhouse on the controller\] \**\nok: \[(pydeploy-app\d) -> localhost\]", out)
    assert found == sorted(APP_HOSTS), found
    for one in app_hosts.values():
        info = json.loads(one.file(f"/srv/{APP}/current/.pydeploy/release.json").content_string)
        assert info["build_inputs"]["wheelhouse"] is True
        assert "gunicorn-" in one.check_output(f"ls /srv/{APP}/current/.pydeploy/wheels")
    after = load(ca_file, "--requests", "150", "--seconds", "60")
    print_load(capsys, "after the roll", after)
    assert [seen["version"] for seen in after["versions"]] == ["2.0.0"]
    assert after["failures"] == 0
    # app_hooks: each app host ran its switch hooks once, in its batch, as the app.
    for name, one in app_hosts.items():
        hooks = one.file(f"/srv/{APP}/shared/data/hooks.log")
        assert hooks.user == APP, name
        assert hooks.content_string.splitlines()[-2:] == [f"before {release}", f"after {release}"], (name, hooks.content_string)


def test_release_failing_on_the_first_host_stops_the_roll(host, app_hosts, ca_file, versions, tmp_path, capsys):
    before = {name: current_release(one) for name, one in app_hosts.items()}
    rc, out, figures = deploy_under_load(ca_file, tmp_path, "-e", f"app_src={versions['v3']}")
    print_load(capsys, "deploy.yml v2 -> broken v3", figures)
    assert rc != 0
    assert figures["failures"] == 0, figures["first_failures"]
    assert [seen["version"] for seen in figures["versions"]] == ["2.0.0"]
    assert re.search(r"fatal: \[pydeploy-app1\]: FAILED! => .{0,200}failed its trial before the switch", out.replace("\n", " ")), out[-3000:]
    # The roll stopped: the other hosts never started the deploy.
    assert not re.search(r"\[pydeploy-app[23]\]", out.split("PLAY [Deploy a new release of the app]", 1)[1].split("PLAY RECAP", 1)[0]), out[-3000:]
    # Every host still on v2, the first one back in the balancer.
    assert {name: current_release(one) for name, one in app_hosts.items()} == before
    assert " down;" not in host.file(SITE).content_string
    after = load(ca_file, "--requests", "150", "--seconds", "60")
    print_load(capsys, "after the failed roll", after)
    assert [seen["version"] for seen in after["versions"]] == ["2.0.0"]
    assert sorted(after["servers"]) == sorted(APP_HOSTS)
    assert after["failures"] == 0


def test_a_wheelhouse_from_the_controller_is_refused_unless_its_python_is_the_hosts(app_hosts, versions):
    # scripts/test runs this scenario's controller on the newest ansible-core
    # (Python 3.13) against Debian 12's Python 3.11: the default wheelhouse
    # (built on the first app host) served the converge and the rolls above;
    # one built on the controller would not install, and is refused before
    # the release is built. On a controller of the hosts' Python it is built
    # there, once.
    code = "import sys, sysconfig; print(sys.implementation.cache_tag, sysconfig.get_platform())"
    controller = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    hosts = app_hosts["pydeploy-app1"].check_output(f"python3 -c '{code}'").strip()
    before = {name: current_release(one) for name, one in app_hosts.items()}
    built = app_hosts["pydeploy-app1"].check_output(f"ls -a /srv/{APP}/releases")
    rc, out = run_playbook("deploy.yml", "-e", f"app_src={versions['v4']}", "-e", "app_wheelhouse_builder=controller")
    if controller != hosts:
        assert rc != 0
        assert f"app_wheelhouse_builder: the controller's Python ({controller}) is not this host's" in out, out[-3000:]
        assert {name: current_release(one) for name, one in app_hosts.items()} == before
        assert app_hosts["pydeploy-app1"].check_output(f"ls -a /srv/{APP}/releases") == built
    else:
        assert rc == 0, out[-3000:]
        builds = re.findall(r"TASK \[pydeploy\.wsgi\.app : Build the wheelhouse on the controller\] \**\n(changed|ok): \[(pydeploy-app\d) -> localhost\]", out)
        assert builds == [("changed", "pydeploy-app1"), ("ok", "pydeploy-app2"), ("ok", "pydeploy-app3")], builds


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory):
    """The README's steps for a balancer and app hosts, followed as a
    newcomer would (../../_shared/tests/readme_steps.py), with
    inventories/production on the balancer and two of the app hosts. No
    ACME CA here: the certificate is self-signed (the example asks Let's
    Encrypt). After the rolling deploys, which expect the scenario's hosts.
    On the test bed's Mitogen strategy (readme_steps: on_mitogen)."""
    return readme_steps.follow(
        tmp_path_factory.mktemp("newcomer"), "production",
        {"lb1.example.com": "pydeploy-lb", "app1.example.com": "pydeploy-app1", "app2.example.com": "pydeploy-app2"},
        {"10.0.0.10": "10.231.37.10", "10.0.0.21": APP_HOSTS["pydeploy-app1"], "10.0.0.22": APP_HOSTS["pydeploy-app2"]},
        "all", "[localhost, www.localhost]",
        ["tls_mode: selfsigned", "python_ca_certificates: [/etc/ssl/certs/ca-certificates.crt]"],
        on_mitogen=True,
    )


def test_the_readmes_steps_deploy_the_balancer_and_app_hosts_example(host, app_hosts, ca_file, newcomer):
    readme_steps.assert_followed(newcomer)
    # Through the balancer: both app hosts of the example, on its settings.
    figures = load(ca_file, "--requests", "60", "--seconds", "60")
    assert figures["failures"] == 0, figures["first_failures"]
    assert sorted(figures["servers"]) == ["pydeploy-app1", "pydeploy-app2"], figures["servers"]
    assert [seen["version"] for seen in figures["versions"]] == ["1.0.0"], figures["versions"]
    for name in ("pydeploy-app1", "pydeploy-app2"):
        assert newcomer["secret"] in app_hosts[name].file("/etc/hello/env").content_string
