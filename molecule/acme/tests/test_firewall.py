"""The firewall (the firewall role, on the web host): inbound traffic is
dropped but for what the stack and the operator opened, IPv4 and IPv6, as
seen from another container (the CA's) and from the controller; new rules
that would cut the controller off are put back by the run, and by the host
itself when the controller is gone before it could confirm them."""

import json
import socket
import time

from conftest import changed_tasks, hosts_named, run_playbook

testinfra_hosts = ["ansible://pydeploy-acme-web"]

NAME = "www.pydeploy.test"
CUT_OFF = ["-e", json.dumps({"pydeploy_firewall_ssh_from": ["203.0.113.0/24"]}), "--limit", "pydeploy-acme-web"]


def from_ca(command):
    return hosts_named(["pydeploy-acme-ca"])["pydeploy-acme-ca"].run(command)


def tcp_from_ca(port):
    return from_ca(f"timeout 3 bash -c 'exec 3<>/dev/tcp/{NAME}/{port}'").rc == 0


def controller_reaches(host, port=22, seconds=3):
    address = host.check_output("hostname -I").split()[0]
    try:
        with socket.create_connection((address, port), timeout=seconds):
            return True
    except OSError:
        return False


def table(host):
    return host.check_output("nft list table inet pydeploy")


def test_the_stack_and_the_operators_openings_answer_the_rest_is_dropped(host):
    # HTTPS and HTTP (the front end's ports) from another container.
    assert from_ca(f"curl -sk --max-time 5 https://{NAME}/health").stdout.strip() == '{"status":"healthy"}'
    assert from_ca(f"curl -s --max-time 5 -o /dev/null -w '%{{http_code}}' http://{NAME}/page").stdout == "301"
    # SSH: the controller's, not the other container's.
    assert controller_reaches(host)
    assert not tcp_from_ca(22)
    # Anything else listening is dropped for others, open on the host itself.
    host.check_output("systemd-run --unit=firewall-test-listener python3 -m http.server --bind 0.0.0.0 9999")
    try:
        time.sleep(1)
        assert host.run("curl -s --max-time 3 -o /dev/null http://127.0.0.1:9999/").rc == 0
        assert not tcp_from_ca(9999)
        assert not controller_reaches(host, 9999)
    finally:
        host.run("systemctl stop firewall-test-listener")


def test_the_rules_deny_by_default_for_ipv4_and_ipv6_and_load_at_boot(host):
    rules = table(host)
    assert "type filter hook input priority filter; policy drop;" in rules
    assert "ct state established,related accept" in rules
    assert "tcp dport 22 ip saddr @ssh_v4 accept" in rules
    assert "tcp dport 22 ip6 saddr @ssh_v6 accept" in rules and "fd00:5eed::/64" in rules
    assert "udp dport 8443 ip6 saddr fd00:5eed::/64 accept" in rules
    assert "tcp dport 80 accept" in rules and "tcp dport 443 accept" in rules
    assert host.service("nftables").is_enabled
    assert 'include "/etc/nftables.d/*.nft"' in host.file("/etc/nftables.conf").content_string
    # What boot loads is what runs.
    host.check_output("nft --check --file /etc/nftables.conf")
    assert host.file("/etc/nftables.d/pydeploy.nft").mode == 0o600


def test_rules_that_cut_the_controller_off_are_put_back_by_the_run(host):
    before = table(host)
    rc, out = run_playbook("site.yml", *CUT_OFF)
    assert rc != 0
    said = " ".join(out.split())
    assert "pydeploy_firewall_ssh_from (firewall_ssh_from) / pydeploy_firewall_allow: with the new rules the controller could not" in said, out[-3000:]
    assert "the previous rules are back in force" in said
    assert table(host) == before
    assert controller_reaches(host)
    assert host.run("systemctl is-active pydeploy-firewall-revert.timer").stdout.strip() != "active"


def test_rules_that_cut_off_a_controller_gone_are_put_back_by_the_host(host):
    before = table(host)
    # The controller dies once the new rules are in force, before it could check them.
    rc, out = run_playbook("site.yml", *CUT_OFF, interrupt_at="Check that the controller still opens a connection")
    assert rc != 0
    assert "203.0.113.0/24" in table(host), out[-2000:]
    assert not controller_reaches(host)
    # firewall_revert_after: 20 s.
    deadline = time.monotonic() + 40
    while table(host) != before and time.monotonic() < deadline:
        time.sleep(1)
    assert table(host) == before
    assert controller_reaches(host)
    # A run now finds the rules it keeps in force and changes nothing of them.
    rc, out = run_playbook("site.yml", "--limit", "pydeploy-acme-web")
    assert rc == 0, out[-3000:]
    # The candidate is written anew (the cut-off one was left); the rules in force equal it: nothing applied.
    firewall = [task for task in changed_tasks(out) if task.startswith("pydeploy.wsgi.firewall")]
    assert firewall == ["pydeploy.wsgi.firewall : Write the new rules, checked with nft -c: pydeploy-acme-web"], firewall
    assert table(host) == before
