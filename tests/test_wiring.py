"""What playbooks/vars/wiring.yml (loaded as its JSON copy, wiring.json)
derives for a split stack, read on the controller (a play on local
connections that only prints the values): the balancers' upstream list,
each app host's own entry, and the addresses Gunicorn trusts, for IPv4 and
IPv6 private addresses; and the roles each host runs (one host or split)."""

import json
import os
import pathlib
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def imports(roles, tags=None):
    """Tasks that import the collection's roles as site.yml does: their
    defaults and vars in the play, none of their tasks run (each role's
    validate.yml, one task, skipped)."""
    return "".join(f"""    - name: Import {role}
      ansible.builtin.import_role:
        name: pydeploy.wsgi.{role}
        tasks_from: validate
        rolespec_validate: false
      when: false
      tags: [{tags or 'always'}]
""" for role in roles)


def site_roles():
    """The collection's roles site.yml imports, in its order (the
    registry's among them, which scripts/wiring-json writes there)."""
    def imported(tasks):
        for task in tasks:
            yield from imported(task.get("block", []))
            if "ansible.builtin.import_role" in task:
                yield task["ansible.builtin.import_role"]["name"].removeprefix("pydeploy.wsgi.")

    play = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())[0]
    return tuple(dict.fromkeys(imported(play["tasks"])))


SITE_ROLES = site_roles()

PLAY = """
- name: Print the wiring
  hosts: all
  gather_facts: false
  vars_files:
    - {wiring}
  tasks:
""" + imports(SITE_ROLES).replace("{", "{{").replace("}", "}}") + """    - name: Print what the roles get
      ansible.builtin.debug:
        msg:
          upstreams: "{{{{ __pydeploy_upstreams }}}}"
          upstream: "{{{{ __pydeploy_upstream }}}}"
          trusted: "{{{{ __pydeploy_lb_addresses }}}}"
          wheelhouse: "{{{{ app_wheelhouse | bool }}}}"
          roles: "{{{{ __pydeploy_host_roles }}}}"
          openings: "{{{{ firewall_dependent_allow }}}}"
          alerted: "{{{{ alerts_dependent_units }}}}"
          monitored: "{{{{ alerts_health.endpoint | default('') }}}}"
          renewal_reloads: "{{{{ tls_front_end.unit | default('') }}}}"
          port_allows: "{{{{ gunicorn_tcp_allow if __pydeploy_app_server == 'gunicorn' else uwsgi_tcp_allow }}}}"
          balancer_speaks: "{{{{ nginx_upstream_protocol }}}}"
"""


REACH = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}


def wired(tmp_path, addresses, groups=None, **host_vars):
    """The values each host of an lb + app inventory gets, by host name (a
    host in lb if its name starts so, else in app; or in the groups given,
    group to host names)."""
    groups = groups or {"lb": [name for name in addresses if name.startswith("lb")],
                        "app": [name for name in addresses if not name.startswith("lb")]}
    groups = {group: {"hosts": {name: {**REACH, "pydeploy_private_address": addresses[name], **host_vars.get(name, {})}
                                for name in names}} for group, names in groups.items()}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"vars": {"pydeploy_app_name": "hello"}, "children": groups}}))
    (tmp_path / "play.yml").write_text(PLAY.format(wiring=ROOT / "playbooks" / "vars" / "wiring.json"))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    result = subprocess.run(["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    task = json.loads(result.stdout)["plays"][0]["tasks"][-1]
    found = {host: printed["msg"] for host, printed in task["hosts"].items()}
    assert sorted(found) == sorted(addresses), result.stdout[-3000:]
    return found


def test_ipv4_app_hosts_are_listed_with_the_app_port(tmp_path):
    found = wired(tmp_path, {"lb1": "10.0.0.10", "app1": "10.0.0.21", "app2": "10.0.0.22"})
    assert found["lb1"]["upstreams"] == ["10.0.0.21:8000", "10.0.0.22:8000"]
    assert (found["lb1"]["upstream"], found["app1"]["upstream"], found["app2"]["upstream"]) == ("", "10.0.0.21:8000", "10.0.0.22:8000")
    assert found["app1"]["trusted"] == ["10.0.0.10"]


def test_the_host_between_runs_watches_and_opens_what_each_host_serves(tmp_path):
    """The firewall's openings, the units whose failure alerts, the health
    monitor and the renewal's front end follow the parts each host plays."""
    found = wired(tmp_path, {"lb1": "10.0.0.10", "app1": "10.0.0.21", "app2": "fd00::22"})
    assert found["lb1"]["openings"] == [{"port": 80, "why": "the front end, HTTP"}, {"port": 443, "why": "the front end, HTTPS"}]
    # The app port, from the balancers alone.
    for app in ("app1", "app2"):
        assert found[app]["openings"] == [{"port": 8000, "from": ["10.0.0.10"], "why": "the app server, from the balancers"}]
    assert found["lb1"]["alerted"] == ["apt-daily-upgrade.service", "nginx.service", "pydeploy-tls-renew.service"]
    assert found["app1"]["alerted"] == ["hello.service", "apt-daily-upgrade.service"]
    assert (found["lb1"]["monitored"], found["app1"]["monitored"]) == ("https://127.0.0.1:443", "")
    assert (found["lb1"]["renewal_reloads"], found["app1"]["renewal_reloads"]) == ("nginx.service", "")


@pytest.mark.parametrize("server, speaks", [("gunicorn", "http"), ("uwsgi", "uwsgi")])
def test_the_app_port_takes_the_balancers_alone(tmp_path, server, speaks):
    """The app hosts' port lets the balancers alone connect (each of them,
    IPv4 and IPv6), and the balancers speak the app server's protocol."""
    shared = {"pydeploy_app_server": server, "pydeploy_split_protocol": speaks}
    addresses = {"lb1": "10.0.0.10", "lb2": "fd00::11", "app1": "10.0.0.21"}
    found = wired(tmp_path, addresses, **{name: shared for name in addresses})
    assert found["app1"]["port_allows"] == ["10.0.0.10", "fd00::11"]
    assert found["lb1"]["balancer_speaks"] == found["lb2"]["balancer_speaks"] == speaks


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


APP_ROLES = ["pydeploy.wsgi.python", "pydeploy.wsgi.app"]


@pytest.mark.parametrize("groups, stack, expected", [
    # One host (the "web" group): the whole stack, one role when the front end is the app server.
    ({"web": ["web1"]}, {}, {"web1": [*APP_ROLES, "pydeploy.wsgi.gunicorn", "pydeploy.wsgi.logrotate", "pydeploy.wsgi.tls", "pydeploy.wsgi.nginx", "pydeploy.wsgi.updates", "pydeploy.wsgi.firewall", "pydeploy.wsgi.alerts"]}),
    ({"web": ["web1"]}, {"pydeploy_front_end": "apache", "pydeploy_app_server": "mod_wsgi"},
     {"web1": [*APP_ROLES, "pydeploy.wsgi.apache", "pydeploy.wsgi.logrotate", "pydeploy.wsgi.tls", "pydeploy.wsgi.updates", "pydeploy.wsgi.firewall", "pydeploy.wsgi.alerts"]}),
    ({"web": ["web1"]}, {"pydeploy_front_end": "apache"},
     {"web1": [*APP_ROLES, "pydeploy.wsgi.gunicorn", "pydeploy.wsgi.logrotate", "pydeploy.wsgi.tls", "pydeploy.wsgi.apache", "pydeploy.wsgi.updates", "pydeploy.wsgi.firewall", "pydeploy.wsgi.alerts"]}),
    # Split: the balancers TLS and the front end, the app hosts the app and its server, a host in both groups both.
    ({"lb": ["lb1", "both1"], "app": ["app1", "both1"]}, {"pydeploy_app_server": "uwsgi"},
     {"lb1": ["pydeploy.wsgi.tls", "pydeploy.wsgi.nginx", "pydeploy.wsgi.updates", "pydeploy.wsgi.firewall", "pydeploy.wsgi.alerts"],
      "app1": [*APP_ROLES, "pydeploy.wsgi.uwsgi", "pydeploy.wsgi.logrotate", "pydeploy.wsgi.updates", "pydeploy.wsgi.firewall", "pydeploy.wsgi.alerts"],
      "both1": [*APP_ROLES, "pydeploy.wsgi.uwsgi", "pydeploy.wsgi.logrotate", "pydeploy.wsgi.tls", "pydeploy.wsgi.nginx", "pydeploy.wsgi.updates", "pydeploy.wsgi.firewall", "pydeploy.wsgi.alerts"]}),
])
def test_each_host_runs_the_roles_the_registry_and_its_parts_name(tmp_path, groups, stack, expected):
    addresses = {name: f"10.0.0.{n}" for n, name in enumerate(sorted({name for names in groups.values() for name in names}), 10)}
    found = wired(tmp_path, addresses, groups, **{name: stack for name in addresses})
    assert {name: printed["roles"] for name, printed in found.items()} == expected


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
# and the front ends imported: their defaults in the play) and, for the
# health gate, in deploy.yml (the app role without them).
CERT_PLAY = """
- name: Print the certificate's paths
  hosts: all
  gather_facts: false
  vars_files:
    - {wiring}
  tasks:
""" + (imports(("tls", "nginx", "apache"), "with_tls") + imports(("app",))).replace("{", "{{").replace("}", "}}") + """
    - name: Print them
      ansible.builtin.debug:
        msg:
          tls: ["{{{{ tls_cert_path | default('') }}}}", "{{{{ tls_key_path | default('') }}}}"]
          nginx: ["{{{{ nginx_tls_cert_path | default('') }}}}", "{{{{ nginx_tls_key_path | default('') }}}}"]
          apache: ["{{{{ apache_tls_cert_path | default('') }}}}", "{{{{ apache_tls_key_path | default('') }}}}"]
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
            assert (found["tls"], found["nginx"], found["apache"]) == ([cert, key], [cert, key], [cert, key]), found
        assert found["health_ca_file"] == cert, (tags, found)



# The contract's items (docs/docsite/rst/app-servers.rst), each the server
# role's option <prefix>_<item>, and the variable the wiring hands it on as.
CONTRACT = {
    "packages": "app_server_packages", "system_packages": "app_server_system_packages",
    "trial_argv": "app_server_trial_argv", "trial_endpoint": "app_server_trial_endpoint",
    "switch_argv": "app_server_switch_argv", "live_path": "app_server_live_path",
    "started_argv": "app_server_started_argv", "sandbox": "app_server_sandbox", "unit": "app_service_name",
    "health_endpoint": "app_health_endpoint", "logrotate": "logrotate_dependent_configs",
    "socket_path": "nginx_upstream_socket",
}
PREFIXES = {"gunicorn": "gunicorn", "uwsgi": "uwsgi", "mod_wsgi": "apache_wsgi"}


def test_each_app_server_s_contract_is_one_mapping_its_registry_line_names():
    """No name is put together at run time: the registry names a mapping in
    the server's role's vars, holding every item of the contract, each the
    role's own option of that name (the sandbox with its overrides laid
    over it), or empty where the server has none."""
    text = (ROOT / "playbooks" / "vars" / "wiring.yml").read_text()
    assert "__pydeploy_contract ~" not in text
    wiring = yaml.safe_load(text)
    assert sorted(wiring["__pydeploy_app_servers"]) == sorted(PREFIXES)
    for server, line in wiring["__pydeploy_app_servers"].items():
        role = line["role"].rsplit(".", 1)[1]
        defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
        role_vars = yaml.safe_load((ROOT / "roles" / role / "vars" / "main.yml").read_text())
        contract = role_vars[line["contract"]]
        # mod_wsgi has no socket between the front end and the app.
        assert set(contract) | ({"socket_path"} if line["protocol"] == "none" else set()) == set(CONTRACT), server
        for item, value in contract.items():
            option = f"{PREFIXES[server]}_{item}"
            if f"{option}_overrides" in defaults:
                # The role's own sandbox with its overrides laid over it (__<role>_sandbox: what its unit gets).
                assert role_vars[f"__{option}"] == "{{ %s | combine(%s_overrides) }}" % (option, option), (server, item)
                assert value == "{{ __%s }}" % option, (server, item)
            elif option in defaults:
                assert value == "{{ %s }}" % option, (server, item)
            else:
                assert value in ([], {}), (server, item, value)


def contract_play(prefix):
    """A play that imports the app servers' roles as site.yml does (their
    defaults and vars, no tasks) and prints, for each host, the server's
    options and what the wiring hands on."""
    options = [f"{prefix}_{item}" for item in CONTRACT] + [f"{prefix}_sandbox_overrides"]
    roles = [{"name": f"Import {role}", "ansible.builtin.import_role": {"name": f"pydeploy.wsgi.{role}", "tasks_from": "validate",
                                                                       "rolespec_validate": False}, "when": False}
             for role in SITE_ROLES]
    show = {"name": "Print them", "ansible.builtin.debug": {"msg": {
        "options": {name: "{{ %s | default('absent') }}" % name for name in options},
        "wired": {item: "{{ %s }}" % variable for item, variable in CONTRACT.items()} | {"apache_socket_path": "{{ apache_upstream_socket }}"},
    }}}
    return [{"name": "Print what the contract hands on", "hosts": "all", "gather_facts": False,
             "vars_files": [str(ROOT / "playbooks" / "vars" / "wiring.json")], "tasks": [*roles, show]}]


@pytest.mark.parametrize("server, front_end", [("gunicorn", "nginx"), ("uwsgi", "nginx"), ("mod_wsgi", "apache")])
def test_the_app_role_gets_the_chosen_server_s_contract_and_an_inventory_value_wins(tmp_path, server, front_end):
    prefix = PREFIXES[server]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(contract_play(prefix)))
    base = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "pydeploy_front_end": front_end, "pydeploy_app_server": server}
    hosts = {"given": {**base, "app_server_switch_argv": ["/bin/true"], f"{prefix}_unit": "other.service",
                       f"{prefix}_sandbox_overrides": {"PrivateDevices": False}},
             "published": base}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"vars": {"pydeploy_app_name": "shop"}, "children": {"web": {"hosts": hosts}}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    result = subprocess.run(["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found = {host: printed["msg"] for host, printed in json.loads(result.stdout)["plays"][0]["tasks"][-1]["hosts"].items()}
    assert sorted(found) == ["given", "published"]
    for host, printed in found.items():
        options, wired = printed["options"], printed["wired"]
        for item in CONTRACT:
            option = options[f"{prefix}_{item}"]
            if host == "given" and item == "switch_argv":
                expected = ["/bin/true"]
            elif option == "absent":
                # None from this server: mod_wsgi's sandbox (the app runs inside Apache) and
                # socket (the shared path, which nothing reads), a unit's own start.
                expected = {"sandbox": {}, "socket_path": "/run/shop/mod_wsgi.sock"}.get(item, [])
            elif item == "sandbox":
                expected = {**option, **options[f"{prefix}_sandbox_overrides"]}
            else:
                expected = option
            assert wired[item] == expected, (host, item)
        assert wired["apache_socket_path"] == wired["socket_path"], host
    assert found["given"]["wired"]["unit"] == "other.service"
    if server != "mod_wsgi":
        assert found["given"]["wired"]["sandbox"]["PrivateDevices"] is False
        assert found["published"]["wired"]["sandbox"]["PrivateDevices"] is True


def test_the_wiring_sets_no_role_variable():
    """One default per variable: the playbooks' wiring holds only what they
    work out (__pydeploy_*), and every role variable's default is its role's,
    which an inventory value overrides as any Ansible default."""
    text = (ROOT / "playbooks" / "vars" / "wiring.yml").read_text()
    assert [name for name in yaml.safe_load(text) if not name.startswith("__pydeploy_")] == []
    assert "hostvars[inventory_hostname]" not in text


# Role variables as the playbooks give them (the wiring loaded) and as a
# play of the roles alone does, for one inventory.
DEFAULTS_PLAY = """
- name: Print role variables
  hosts: all
  gather_facts: false
  vars_files: {vars_files}
  tasks:
""" + imports(SITE_ROLES).replace("{", "{{").replace("}", "}}") + """    - name: Print them
      ansible.builtin.debug:
        msg: "{{{{ {{{names}}} }}}}"
"""
SHOWN = ("app_name", "app_user", "app_root", "app_wsgi_app", "app_health_path", "app_health_host", "app_build_groups",
         "gunicorn_user", "gunicorn_chdir", "gunicorn_socket_path", "gunicorn_health_path", "gunicorn_log_format",
         "gunicorn_data_paths", "nginx_site_name", "nginx_server_names", "nginx_upstream_socket", "nginx_static_root",
         "nginx_health_location", "apache_wsgi_python", "tls_name")


@pytest.mark.parametrize("wiring", [True, False], ids=["the playbooks", "the roles alone"])
def test_each_role_variable_follows_the_shared_values_and_the_inventory_wins(tmp_path, wiring):
    names = ", ".join(f"{name!r}: {name}" for name in SHOWN)
    vars_files = json.dumps([str(ROOT / "playbooks" / "vars" / "wiring.json")] if wiring else [])
    (tmp_path / "play.yml").write_text(DEFAULTS_PLAY.format(vars_files=vars_files, names=names))
    shared = {"pydeploy_app_name": "shop", "pydeploy_server_names": ["shop.example.org", "www.shop.example.org"],
              "pydeploy_log_format": "json", "app_shared_dirs": [{"path": "uploads"}], "app_python": "/usr/bin/python3.11"}
    hosts = {"shared": REACH, "given": {**REACH, "pydeploy_app_user": "svc", "gunicorn_socket_path": "/run/shop/g.sock",
                                        "nginx_site_name": "front"}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"vars": shared, "children": {"web": {"hosts": hosts}}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    result = subprocess.run(["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found = {host: printed["msg"] for host, printed in json.loads(result.stdout)["plays"][0]["tasks"][-1]["hosts"].items()}
    expected = {
        "app_name": "shop", "app_user": "shop", "app_root": "/srv/shop", "app_wsgi_app": "wsgi:app",
        "app_health_path": "/health", "app_health_host": "shop.example.org",
        "app_build_groups": ["pydeploy-pip"] if wiring else [],
        "gunicorn_user": "shop", "gunicorn_chdir": "/srv/shop/current", "gunicorn_socket_path": "/run/shop/gunicorn.sock",
        # Gunicorn's own check of the site after a change: the app's health path where the playbooks run it.
        "gunicorn_health_path": "/health" if wiring else "", "gunicorn_log_format": "json",
        "gunicorn_data_paths": ["/srv/shop/shared/uploads"], "nginx_site_name": "shop",
        "nginx_server_names": ["shop.example.org", "www.shop.example.org"],
        "nginx_upstream_socket": "/run/shop/gunicorn.sock" if wiring else "/run/app/gunicorn.sock",
        "nginx_static_root": "/srv/shop/current", "nginx_health_location": "/health",
        "apache_wsgi_python": "/usr/bin/python3.11", "tls_name": "shop.example.org",
    }
    assert found["shared"] == expected
    given = expected | {"app_user": "svc", "gunicorn_user": "svc", "gunicorn_socket_path": "/run/shop/g.sock", "nginx_site_name": "front"}
    if wiring:
        # The front end follows the app server's socket, set or not.
        given["nginx_upstream_socket"] = "/run/shop/g.sock"
    assert found["given"] == given
