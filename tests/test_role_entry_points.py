"""A role used on its own checks its input as the playbooks do: its
tasks/validate.yml (imported by its main entry point) runs the same
pydeploy.wsgi.check_inputs task, then the role's checks that need a module.
Runs on the controller only (connection local, nothing changed)."""

import importlib.util
import json
import os
import pathlib
import re
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
# make_certificate() is the scenarios' helper.
_spec = importlib.util.spec_from_file_location("scenario_helpers", ROOT / "molecule" / "default" / "tests" / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

PLAYBOOK = """
- name: Check a role's input as a user of the role alone would
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: The role's validate entry point
      ansible.builtin.include_role:
        name: pydeploy.wsgi.{role}
        tasks_from: validate
"""


def check(tmp_path, role, *extra):
    playbook = tmp_path / f"{role}.yml"
    playbook.write_text(PLAYBOOK.replace("{role}", role))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = ["ansible-playbook", "-i", "localhost,", str(playbook)]
    for value in extra:
        cmd += ["-e", value]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_a_role_alone_accepts_good_input(tmp_path):
    rc, out = check(tmp_path, "gunicorn")
    assert rc == 0, out[-2000:]
    assert re.search(r"TASK \[pydeploy.wsgi.gunicorn : Check the role's input\] \*+ ok: \[localhost\]", out), out[-2000:]


def test_a_role_alone_refuses_bad_input_naming_the_variable(tmp_path):
    rc, out = check(tmp_path, "gunicorn", "gunicorn_workers=0")
    assert rc != 0, out[-2000:]
    assert "pydeploy.wsgi.gunicorn: gunicorn_workers must be at least 1 (got 0)" in out, out[-2000:]


@pytest.mark.parametrize(("other_names", "message"), [(False, None), (True, "does not cover www.example.com")])
def test_a_role_alone_runs_its_checks_that_need_a_module(tmp_path, other_names, message):
    # tls_mode files: the certificate files are read on the controller (roles/tls/tasks/validate_files.yml).
    names = ["example.org"] if other_names else ["www.example.com"]
    cert, key, _ = helpers.make_certificate(tmp_path, names)
    rc, out = check(tmp_path, "tls", "tls_mode=files", f"tls_cert_src={cert}", f"tls_key_src={key}",
                    '{"tls_server_names": ["www.example.com"]}')
    assert "TASK [pydeploy.wsgi.tls : Read the certificate (tls_cert_src)]" in out, out[-2000:]
    if message:
        assert rc != 0 and message in out, out[-2000:]
    else:
        assert rc == 0, out[-2000:]


# The guarded role's input: what a unit of the operator's own would give it.
GUARDED = {
    "guarded_name": "Nginx",
    "guarded_what": "The status site",
    "guarded_files": [{"src": "/srv/templates/status.conf.j2", "dest": "/etc/nginx/sites-available/status.conf"}],
    "guarded_links": {"/etc/nginx/sites-enabled/status.conf": "/etc/nginx/sites-available/status.conf"},
    "guarded_test": ["nginx", "-t"],
    "guarded_service": "nginx.service",
    "guarded_record": "/var/lib/pydeploy/nginx-status.applied",
    "guarded_health": {"endpoint": "http://127.0.0.1:8081", "path": "/status"},
}


# An app server's: its files keyed, its socket, a trial of a new configuration.
GUARDED_SOCKET = {
    "guarded_files": [
        {"src": "/srv/t/app.ini.j2", "dest": "/etc/hello/app.ini", "key": "config"},
        {"src": "/srv/t/hello.socket.j2", "dest": "/etc/systemd/system/hello.socket", "key": "socket"},
        {"src": "/srv/t/hello.service.j2", "dest": "/etc/systemd/system/hello.service", "key": "service"},
    ],
    "guarded_links": {},
    "guarded_test": [],
    "guarded_apply": "socket",
    "guarded_service": "hello.service",
    "guarded_socket": "hello.socket",
    "guarded_reload_on": ["config"],
    "guarded_directories": [{"path": "/var/log/hello", "owner": "hello", "group": "hello", "mode": "0750"}],
    "guarded_trial": {
        "on": ["config"], "protocol": "unix", "command": ["/srv/hello/current/venv/bin/server", "--config=/etc/hello/app.ini", "--bind=unix:{socket}"],
        "user": "hello", "group": "hello", "env_file": "/etc/hello/env", "chdir": "/srv/hello/current",
    },
    "guarded_record": "/var/lib/pydeploy/hello.applied",
    "guarded_health": {"endpoint": "unix:/run/hello/app.sock", "path": "/health", "unit": "hello.service"},
}


# (change to GUARDED, what the refusal names or None where it passes).
GUARDED_CASES = [
    ({}, None),
    # Hostile paths: out of a folder, relative, a line break.
    ({"guarded_files": [{"src": "status.conf.j2", "dest": "/etc/nginx/../cron.d/x"}]}, "need absolute, normalised paths"),
    ({"guarded_links": {"sites-enabled/x": "/etc/nginx/x"}}, "need absolute, normalised paths"),
    ({"guarded_record": "/var/lib/x\nExecStart=/bin/sh"}, "need absolute, normalised paths"),
    ({"guarded_directories": [{"path": "/var/log/hello/../../../etc", "owner": "hello"}]}, "guarded_directories, guarded_files, guarded_links"),
    # A folder root hands to a service's user: never a system folder, nor one inside a tree the system keeps.
    ({"guarded_directories": [{"path": "/var/log", "owner": "hello", "group": "hello", "mode": "0750"}]},
     "guarded_directories: a folder owned by another user than root"),
    ({"guarded_directories": [{"path": "/etc/ssl/private", "owner": "root", "group": "hello", "mode": "0750"}]},
     "guarded_directories: a folder owned by another user than root"),
    ({"guarded_directories": [{"path": "/etc/nginx/pydeploy", "owner": "root", "group": "root", "mode": "0755"}]}, None),
    ({"guarded_files": [{"src": "../../../etc/shadow", "dest": "/etc/x"}], "guarded_role": "nginx"}, "guarded_files: a template's src"),
    ({"guarded_service": "nginx; reboot"}, "guarded_service must be a systemd service"),
    ({"guarded_apply": "restart"}, "guarded_apply must be one of: reload, socket"),
    ({"guarded_test": []}, "guarded_apply reload needs guarded_test"),
    # An app server behind its socket.
    (GUARDED_SOCKET, None),
    ({**GUARDED_SOCKET, "guarded_socket": "hello.service"}, "guarded_apply socket needs guarded_socket, a systemd socket unit"),
    ({**GUARDED_SOCKET, "guarded_files": [{"src": "/srv/t/app.ini.j2", "dest": "/etc/hello/app.ini"}]}, "and a key on every file"),
    ({**GUARDED_SOCKET, "guarded_trial": {**GUARDED_SOCKET["guarded_trial"], "user": None}}, "guarded_trial needs on, protocol, command"),
    ({**GUARDED_SOCKET, "guarded_trial": {**GUARDED_SOCKET["guarded_trial"], "command": ["/srv/hello/current/venv/bin/server"]}},
     "guarded_trial.command must name the socket the trial listens on"),
    ({**GUARDED_SOCKET, "guarded_trial": {**GUARDED_SOCKET["guarded_trial"], "protocol": "http"}}, "value of protocol must be one of: unix, uwsgi, got: http found in guarded_trial"),
]


@pytest.fixture(scope="module")
def guarded_ends(tmp_path_factory):
    """Each case's end, in one run: a host of its own a case (localhost
    under another name, the case's variables its own), each through the
    role's validate entry point as check() runs it (a run's start is most of
    its cost). Returns, by case index, the message of the task that failed
    (None where none did), the tasks that passed, and the host's counts."""
    base = tmp_path_factory.mktemp("guarded")
    hosts = {
        f"case-{index}": {"ansible_connection": "local", **GUARDED, **change}
        for index, (change, _) in enumerate(GUARDED_CASES)
    }
    (base / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    playbook = base / "guarded.yml"
    playbook.write_text(PLAYBOOK.replace("{role}", "guarded").replace("hosts: localhost", "hosts: all"))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    result = subprocess.run(
        ["ansible-playbook", "-i", str(base / "hosts.yml"), str(playbook)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False,
    )
    data = json.loads(result.stdout[result.stdout.index("{"):])
    ends, passed = {}, {}
    for play in data["plays"]:
        for task in play["tasks"]:
            for host, answer in task["hosts"].items():
                if answer.get("failed") and host not in ends:
                    ends[host] = " ".join(str(answer.get("msg", "")).split())
                elif not answer.get("failed") and not answer.get("skipped"):
                    passed.setdefault(host, []).append(task["task"]["name"])
    return {
        index: (ends.get(f"case-{index}"), passed.get(f"case-{index}", []), data["stats"][f"case-{index}"])
        for index in range(len(GUARDED_CASES))
    }


@pytest.mark.parametrize(("index", "message"), [(index, message) for index, (_, message) in enumerate(GUARDED_CASES)],
                         ids=[f"change{index}-{message}" for index, (_, message) in enumerate(GUARDED_CASES)])
def test_the_guarded_role_alone_checks_its_input(guarded_ends, index, message):
    failure, passed, stats = guarded_ends[index]
    if message is None:
        assert failure is None and stats["failures"] == 0, (GUARDED_CASES[index], failure)
        assert "pydeploy.wsgi.guarded : Check the role's input" in passed, passed
    else:
        assert failure is not None and stats["failures"] == 1, (GUARDED_CASES[index], stats)
        assert message in failure, (GUARDED_CASES[index], failure)
    assert stats["changed"] == 0, stats
