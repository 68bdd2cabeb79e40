"""What playbooks/vars/wiring.yml (loaded as its JSON copy, wiring.json)
derives for a split stack, read on the controller (a play on local
connections that only prints the values): the balancers' upstream list,
each app host's own entry, and the addresses Gunicorn trusts, for IPv4 and
IPv6 private addresses."""

import json
import os
import pathlib
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent

PLAY = """
- name: Print the wiring
  hosts: all
  gather_facts: false
  vars_files:
    - {wiring}
  tasks:
    - name: Print what the roles get
      ansible.builtin.debug:
        msg:
          upstreams: "{{{{ __pydeploy_upstreams }}}}"
          upstream: "{{{{ __pydeploy_upstream }}}}"
          trusted: "{{{{ __pydeploy_lb_addresses }}}}"
          wheelhouse: "{{{{ app_wheelhouse | bool }}}}"
"""


def wired(tmp_path, addresses, **host_vars):
    """The values each host of an lb + app inventory gets, by host name."""
    reach = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    groups = {"lb": {"hosts": {}}, "app": {"hosts": {}}}
    for name, address in addresses.items():
        groups["lb" if name.startswith("lb") else "app"]["hosts"][name] = {
            **reach, "pydeploy_private_address": address, **host_vars.get(name, {})}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"vars": {"pydeploy_app_name": "hello"}, "children": groups}}))
    (tmp_path / "play.yml").write_text(PLAY.format(wiring=ROOT / "playbooks" / "vars" / "wiring.json"))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    result = subprocess.run(["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    task = json.loads(result.stdout)["plays"][0]["tasks"][0]
    found = {host: printed["msg"] for host, printed in task["hosts"].items()}
    assert sorted(found) == sorted(addresses), result.stdout[-3000:]
    return found


def test_ipv4_app_hosts_are_listed_with_the_app_port(tmp_path):
    found = wired(tmp_path, {"lb1": "10.0.0.10", "app1": "10.0.0.21", "app2": "10.0.0.22"})
    assert found["lb1"]["upstreams"] == ["10.0.0.21:8000", "10.0.0.22:8000"]
    assert (found["lb1"]["upstream"], found["app1"]["upstream"], found["app2"]["upstream"]) == ("", "10.0.0.21:8000", "10.0.0.22:8000")
    assert found["app1"]["trusted"] == ["10.0.0.10"]


def test_ipv6_app_hosts_are_bracketed(tmp_path):
    found = wired(tmp_path, {"lb1": "fd00::10", "app1": "fd00::21", "app2": "10.0.0.22"})
    assert found["lb1"]["upstreams"] == ["[fd00::21]:8000", "10.0.0.22:8000"]
    assert found["app1"]["upstream"] == "[fd00::21]:8000"
    assert found["app2"]["trusted"] == ["fd00::10"]


@pytest.mark.parametrize("app_hosts, inventory, expected", [
    (1, None, False),
    (2, None, True),
    (2, False, False),
])
def test_several_app_hosts_build_their_dependencies_once(tmp_path, app_hosts, inventory, expected):
    addresses = {"lb1": "10.0.0.10", **{f"app{n}": f"10.0.0.2{n}" for n in range(1, app_hosts + 1)}}
    host_vars = {} if inventory is None else {"app1": {"app_wheelhouse": inventory}}
    found = wired(tmp_path, addresses, **host_vars)
    assert found["app1"]["wheelhouse"] is expected


def test_the_playbooks_load_the_wiring_as_written():
    """wiring.json is wiring.yml, value for value (scripts/wiring-json), and
    it is what every play of the playbooks loads."""
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "wiring-json"), "--check"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    written = yaml.safe_load((ROOT / "playbooks" / "vars" / "wiring.yml").read_text())
    loaded = json.loads((ROOT / "playbooks" / "vars" / "wiring.json").read_text())
    assert loaded.pop("__pydeploy_wiring_source").startswith("generated from playbooks/vars/wiring.yml")
    assert loaded == written
    for name in ("site.yml", "deploy.yml", "rollback.yml"):
        plays = yaml.safe_load((ROOT / "playbooks" / name).read_text())
        # rollback.yml is deploy.yml's roll with another step.
        while len(plays) == 1 and "ansible.builtin.import_playbook" in plays[0]:
            plays = yaml.safe_load((ROOT / "playbooks" / plays[0]["ansible.builtin.import_playbook"]).read_text())
        assert [play.get("vars_files") for play in plays] == [["vars/wiring.json"]] * len(plays), name


# The certificate's paths as each role gets them in site.yml (the tls role
# imported: its defaults in the play) and in deploy.yml (without it).
CERT_PLAY = """
- name: Print the certificate's paths
  hosts: all
  gather_facts: false
  vars_files:
    - {wiring}
  tasks:
    - name: The tls role, as site.yml imports it (its defaults, not its tasks)
      ansible.builtin.import_role:
        name: pydeploy.wsgi.tls
        tasks_from: run
      when: false
      tags: [with_tls]

    - name: Print them
      ansible.builtin.debug:
        msg:
          tls: ["{{{{ tls_cert_path | default('') }}}}", "{{{{ tls_key_path | default('') }}}}"]
          nginx: ["{{{{ nginx_tls_cert_path }}}}", "{{{{ nginx_tls_key_path }}}}"]
          apache: ["{{{{ apache_tls_cert_path }}}}", "{{{{ apache_tls_key_path }}}}"]
          health_ca_file: "{{{{ app_health_ca_file }}}}"
      tags: [always]
"""


@pytest.mark.parametrize("inventory, cert, key", [
    ({}, "/etc/ssl/pydeploy/shop.example.org.crt", "/etc/ssl/pydeploy/private/shop.example.org.key"),
    ({"tls_cert_dir": "/etc/pki/shop"}, "/etc/pki/shop/shop.example.org.crt", "/etc/pki/shop/private/shop.example.org.key"),
    ({"tls_name": "shop"}, "/etc/ssl/pydeploy/shop.crt", "/etc/ssl/pydeploy/private/shop.key"),
    ({"tls_cert_path": "/etc/pki/shop.pem", "tls_key_path": "/etc/pki/private/shop.pem"}, "/etc/pki/shop.pem", "/etc/pki/private/shop.pem"),
])
def test_the_front_ends_read_the_certificate_where_the_tls_role_writes_it(tmp_path, inventory, cert, key):
    hosts = {"all": {"vars": {"pydeploy_app_name": "shop", "pydeploy_server_names": ["shop.example.org"], **inventory},
                     "hosts": {"web1": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (tmp_path / "play.yml").write_text(CERT_PLAY.format(wiring=ROOT / "playbooks" / "vars" / "wiring.json"))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    for tags in ("all", "always"):  # site.yml (the tls role's defaults in the play), deploy.yml (none)
        result = subprocess.run(["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml"), "--tags", tags],
                                capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        tasks = json.loads(result.stdout)["plays"][0]["tasks"]
        found = tasks[-1]["hosts"]["web1"]["msg"]
        if tags == "all":
            assert found["tls"] == [cert, key]
        assert (found["nginx"], found["apache"], found["health_ca_file"]) == ([cert, key], [cert, key], cert), (tags, found)
