"""The record of a host's last complete run (plugins/modules/converged.py):
what tells an unchanged host, what does not, and what a local user (the app
included) can leave in its way. Each case runs the real module, as Ansible
would on a host, against folders of its own in /run.
"""

import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODULE = ROOT / "plugins" / "modules" / "converged.py"
INPUTS = {"pydeploy.wsgi.nginx": "a" * 64, "input release": "b" * 64}


def run_module(args, check_mode=False):
    """The module's JSON answer for one call."""
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check_mode}}
    out = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(payload), capture_output=True, text=True, timeout=60, check=False)
    return json.loads(out.stdout)


@pytest.fixture
def bed():
    """A record folder of root's, and a watched tree, file, listing."""
    assert os.geteuid() == 0, "the record's tests run as root, as the module does on a host"
    base = pathlib.Path("/run") / f"pydeploy-test-converged-{uuid.uuid4().hex}"
    (base / "records").mkdir(parents=True, mode=0o755)
    base.chmod(0o755)
    (base / "etc" / "site" / "conf.d").mkdir(parents=True)
    (base / "etc" / "site" / "main.conf").write_text("listen 443;\n")
    (base / "etc" / "site" / "conf.d" / "extra.conf").write_text("gzip on;\n")
    (base / "app" / "releases" / "r1").mkdir(parents=True)
    (base / "app" / "current").symlink_to("releases/r1")
    (base / "env").write_text("SECRET=x\n")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def args_for(bed, **extra):
    return {
        "path": str(bed / "records" / "hello.json"),
        "inputs": INPUTS,
        "watch": {"trees": [str(bed / "etc")], "files": [str(bed / "env")], "listings": [str(bed / "app")], "units": []},
        **extra,
    }


def record(bed, **extra):
    answer = run_module(args_for(bed, state="present", **extra))
    assert answer.get("changed") is False and answer["reason"] == "recorded", answer
    return answer


def check(bed, **extra):
    answer = run_module(args_for(bed, **extra))
    assert "failed" not in answer, answer
    return answer


def test_an_unchanged_host_is_told_in_one_call(bed):
    record(bed)
    stored = bed / "records" / "hello.json"
    assert stored.stat().st_mode & 0o777 == 0o600 and stored.stat().st_uid == 0
    answer = check(bed)
    assert answer["unchanged"] is True and answer["changed"] is False, answer
    assert answer["reason"].startswith("unchanged since the complete run of "), answer
    # The record stays for the next run.
    assert check(bed)["unchanged"] is True


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda bed: (bed / "etc" / "site" / "conf.d" / "extra.conf").write_text("gzip off;\n"), "tree"),
        (lambda bed: (bed / "etc" / "site" / "conf.d" / "new.conf").write_text(""), "tree"),
        (lambda bed: (bed / "etc" / "site" / "main.conf").chmod(0o600), "tree"),
        (lambda bed: os.chown(bed / "etc" / "site" / "main.conf", 1, 1), "tree"),
        (lambda bed: (bed / "env").write_text("SECRET=y\n"), "file"),
        (lambda bed: (bed / "env").unlink(), "file"),
        (lambda bed: ((bed / "app" / "current").unlink(), (bed / "app" / "current").symlink_to("releases/r2")), "listing"),
        (lambda bed: (bed / "app" / "releases" / "r2").mkdir(), None),
        (lambda bed: (bed / "app" / "previous").symlink_to("releases/r1"), "listing"),
    ],
    ids=["content", "new file", "mode", "owner", "file content", "file removed", "link target", "release added (listing is one level)", "new link"],
)
def test_a_change_to_what_is_watched_is_found_and_drops_the_record(bed, change, reason):
    record(bed)
    change(bed)
    answer = check(bed)
    if reason is None:
        # A listing holds its folder's direct entries only: a new folder in
        # releases/ changes the entry of releases/ itself (its mtime is not
        # part of an entry), so it is not a change of app/'s listing.
        assert answer["unchanged"] is True, answer
        return
    assert answer["unchanged"] is False, answer
    assert answer["reason"].startswith(reason + " ") and answer["reason"].endswith(" changed"), answer
    # Nothing of the files' content or digests comes back.
    assert set(answer) <= {"changed", "unchanged", "reason", "invocation"}, answer
    assert not (bed / "records" / "hello.json").exists(), "the record of a host that changed stays"


def test_another_input_names_the_input_that_changed(bed):
    record(bed)
    answer = check(bed, inputs={**INPUTS, "pydeploy.wsgi.nginx": "c" * 64})
    assert answer["unchanged"] is False and answer["reason"] == "the input changed: pydeploy.wsgi.nginx", answer
    record(bed)
    answer = check(bed, inputs={**INPUTS, "pydeploy.wsgi.tls": "d" * 64})
    assert answer["reason"] == "the input changed: pydeploy.wsgi.tls", answer


def test_what_is_watched_is_part_of_the_record(bed):
    record(bed)
    watch = args_for(bed)["watch"]
    answer = check(bed, watch={**watch, "files": [*watch["files"], str(bed / "other")]})
    assert answer["unchanged"] is False and answer["reason"] == "what the roles manage changed", answer


def test_an_old_record_spares_no_run(bed):
    record(bed)
    stored = bed / "records" / "hello.json"
    data = json.loads(stored.read_text())
    data["time"] = time.time() - 100
    stored.write_text(json.dumps(data))
    assert check(bed, max_age=1000)["unchanged"] is True
    answer = check(bed, max_age=50)
    assert answer["unchanged"] is False and answer["reason"] == "the last complete run is older than 50 s", answer
    record(bed)
    data = json.loads(stored.read_text())
    # A record from the future (a clock set back) spares nothing either.
    data["time"] = time.time() + 3600
    stored.write_text(json.dumps(data))
    assert check(bed)["unchanged"] is False


def test_disabled_the_check_drops_the_record(bed):
    record(bed)
    answer = check(bed, enabled=False)
    assert answer["unchanged"] is False and "pydeploy_skip_unchanged" in answer["reason"], answer
    assert not (bed / "records" / "hello.json").exists()


def test_check_mode_reads_and_never_writes(bed):
    answer = run_module(args_for(bed, state="present"), check_mode=True)
    assert answer["reason"] == "not recorded in check mode" and not (bed / "records" / "hello.json").exists(), answer
    record(bed)
    (bed / "env").write_text("SECRET=z\n")
    answer = run_module(args_for(bed), check_mode=True)
    assert answer["unchanged"] is False, answer
    assert (bed / "records" / "hello.json").exists(), "a check run removed the record"


@pytest.mark.parametrize("kind", ["link", "fifo", "not root's", "group-readable", "not JSON", "another version"])
def test_a_record_that_is_not_root_s_own_spares_nothing(bed, kind):
    record(bed)
    stored = bed / "records" / "hello.json"
    if kind == "link":
        target = bed / "elsewhere.json"
        shutil.move(stored, target)
        stored.symlink_to(target)
    elif kind == "fifo":
        stored.unlink()
        os.mkfifo(stored)
    elif kind == "not root's":
        os.chown(stored, 1, 1)
    elif kind == "group-readable":
        stored.chmod(0o640)
    elif kind == "not JSON":
        stored.write_text("{")
    else:
        data = json.loads(stored.read_text())
        data["version"] = 0
        stored.write_text(json.dumps(data))
    answer = check(bed)
    assert answer["unchanged"] is False and answer["reason"] == "no record of a complete run", answer


def test_links_are_never_followed(bed):
    """A link in a watched tree, or in place of a folder on the way to a
    watched path, is recorded as a link: what it points to is neither read
    nor walked, so a change there is no change of the host."""
    outside = bed / "outside"
    outside.mkdir()
    (outside / "secret").write_text("1")
    (bed / "etc" / "site" / "link").symlink_to(outside)
    (bed / "etc" / "site" / "file-link").symlink_to(outside / "secret")
    hop = bed / "hop"
    hop.symlink_to(outside)
    watch = {"trees": [str(bed / "etc")], "files": [str(hop / "secret")], "listings": [], "units": []}
    record(bed, watch=watch)
    (outside / "secret").write_text("2")
    (outside / "new").write_text("")
    assert check(bed, watch=watch)["unchanged"] is True


def test_the_record_folder_must_be_root_s_alone(bed):
    (bed / "records").chmod(0o777)
    answer = run_module(args_for(bed, state="present"))
    assert answer.get("failed") and "must be a folder of root's, writable by root alone" in answer["msg"], answer


@pytest.mark.parametrize("path", ["relative/path", "/etc/../etc/passwd", "/etc/./passwd"])
def test_a_watched_path_must_be_plain_and_absolute(bed, path):
    answer = run_module(args_for(bed, state="present", watch={"files": [path]}))
    assert answer.get("failed") and path in answer["msg"], answer


PLAY = """
- name: The record through the action, on this machine
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    record: {record}
    rotation: {{name: hello, paths: [/var/log/hello/*.log]}}
    logrotate_configs: ["{{{{ rotation }}}}"]
  tasks:
    - name: Record
      pydeploy.wsgi.converged: {{roles: [pydeploy.wsgi.logrotate], path: "{{{{ record }}}}", inputs: {{release: r1}}, state: present}}
    - name: Read the record
      ansible.builtin.slurp: {{src: "{{{{ record }}}}"}}
      register: first
    - name: The same input
      pydeploy.wsgi.converged: {{roles: [pydeploy.wsgi.logrotate], path: "{{{{ record }}}}", inputs: {{release: r1}}}}
      register: same
    - name: Another value of a role's variable (check mode keeps the record)
      pydeploy.wsgi.converged: {{roles: [pydeploy.wsgi.logrotate], path: "{{{{ record }}}}", inputs: {{release: r1}}}}
      vars: {{logrotate_rotate: 99}}
      check_mode: true
      register: role
    - name: Another release
      pydeploy.wsgi.converged: {{roles: [pydeploy.wsgi.logrotate], path: "{{{{ record }}}}", inputs: {{release: r2}}}}
      check_mode: true
      register: release
    - name: One more role (what it manages is watched too)
      pydeploy.wsgi.converged:
        roles: [pydeploy.wsgi.logrotate, pydeploy.wsgi.python]
        path: "{{{{ record }}}}"
        inputs: {{release: r1}}
      check_mode: true
      register: more
    - name: Record with a CA certificate the python role copies from the controller
      pydeploy.wsgi.converged: {{roles: [pydeploy.wsgi.python], path: "{{{{ record }}}}", state: present}}
      vars: {{python_ca_certificates: ["{ca}"]}}
    - name: Change the certificate's content, not its path
      ansible.builtin.copy: {{content: "another\n", dest: "{ca}", mode: "0644"}}
      check_mode: false
    - name: The same path, another content
      pydeploy.wsgi.converged: {{roles: [pydeploy.wsgi.python], path: "{{{{ record }}}}"}}
      vars: {{python_ca_certificates: ["{ca}"]}}
      check_mode: true
      register: content
    - name: What the module answered
      ansible.builtin.copy:
        content: "{{{{ {{'first': first, 'same': same, 'role': role, 'release': release, 'more': more, 'content': content}} | to_json }}}}"
        dest: {answers}
        mode: "0600"
      check_mode: false
"""


def test_the_action_gives_each_role_s_input_and_watch(tmp_path):
    """The action plugin: each role's variables as the host sees them, and
    the inputs the task names, as digests compared one by one; the watch
    list from each role's vars; nothing of them in the answer."""
    assert os.geteuid() == 0
    folder = pathlib.Path("/run") / f"pydeploy-test-converged-{uuid.uuid4().hex}"
    folder.mkdir(mode=0o755)
    try:
        answers = tmp_path / "answers.json"
        playbook = tmp_path / "play.yml"
        ca = tmp_path / "ca.crt"
        ca.write_text("one\n")
        playbook.write_text(PLAY.format(record=folder / "hello.json", answers=answers, ca=ca))
        env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
        out = subprocess.run(
            ["ansible-playbook", "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False
        )
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
        got = json.loads(answers.read_text())
        assert got["same"]["unchanged"] is True, got["same"]
        assert got["role"]["unchanged"] is False and got["role"]["reason"] == "the input changed: pydeploy.wsgi.logrotate", got["role"]
        assert got["release"]["reason"] == "the input changed: input release", got["release"]
        assert got["more"]["reason"] == "the input changed: pydeploy.wsgi.python", got["more"]
        assert got["content"]["reason"] == "the input changed: pydeploy.wsgi.python", got["content"]
        for answer in (got[name] for name in ("same", "role", "release", "more", "content")):
            assert not {"inputs", "watch", "invocation", "state"} & set(answer), answer
        stored = json.loads((folder / "hello.json").read_text())
        assert stored["watch"]["files"][:3] == ["/var/lib/dpkg/status", "/etc/passwd", "/etc/group"], stored["watch"]
        assert "/etc/pip.conf" in stored["watch"]["files"] and stored["watch"]["listings"] == ["/etc/ssl/certs"], stored["watch"]
        assert set(stored["inputs"]) == {"collection", "facts", "host", "pydeploy.wsgi.python"}, stored["inputs"]
        first = json.loads(base64.b64decode(got["first"]["content"]))
        assert first["watch"]["files"] == ["/var/lib/dpkg/status", "/etc/passwd", "/etc/group", "/etc/logrotate.d/hello"], first["watch"]
        assert set(first["inputs"]) == {"collection", "facts", "host", "input release", "pydeploy.wsgi.logrotate"}, first["inputs"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("role", sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "meta").is_dir()))
def test_every_role_declares_what_it_manages(role):
    """site.yml's check reads each role's __<role>_watch: a role without one
    would fail the check; a key the module does not know would watch nothing."""
    import yaml  # noqa: PLC0415

    found = yaml.safe_load((ROOT / "roles" / role / "vars" / "main.yml").read_text()) or {}
    watch = found.get(f"__{role}_watch")
    assert isinstance(watch, dict) and watch, f"roles/{role}/vars/main.yml has no __{role}_watch"
    assert set(watch) <= {"trees", "files", "listings", "units"}, watch


PREPARED_PLAY = """
- name: The roles' input of two hosts worked out in one task, each host's check taking its own
  hosts: one:two
  connection: local
  gather_facts: false
  vars:
    rotation: {{name: hello, paths: [/var/log/hello/*.log]}}
    logrotate_configs: ["{{{{ rotation }}}}"]
    checked: [pydeploy.wsgi.logrotate]
  tasks:
    - name: Record each host's run, the input worked out by its own task
      pydeploy.wsgi.converged: {{roles: [pydeploy.wsgi.logrotate], path: "{folder}/{{{{ inventory_hostname }}}}.json", state: present}}
    - name: Every host's roles' input in one task
      pydeploy.wsgi.converged: {{roles_var: checked, hosts: "{{{{ ansible_play_batch }}}}"}}
      run_once: true
      register: prepared
    - name: Each host's check with its own prepared input
      pydeploy.wsgi.converged:
        roles: [pydeploy.wsgi.logrotate]
        prepared: "{{{{ prepared.hosts[inventory_hostname] }}}}"
        path: "{folder}/{{{{ inventory_hostname }}}}.json"
      register: same
    - name: Another host's prepared input
      pydeploy.wsgi.converged:
        roles: [pydeploy.wsgi.logrotate]
        prepared: "{{{{ prepared.hosts['two' if inventory_hostname == 'one' else 'one'] }}}}"
        path: "{folder}/{{{{ inventory_hostname }}}}.json"
      check_mode: true
      register: swapped
    - name: Prepared for other roles than the check's (worked out again)
      pydeploy.wsgi.converged:
        roles: [pydeploy.wsgi.logrotate, pydeploy.wsgi.python]
        prepared: "{{{{ prepared.hosts[inventory_hostname] }}}}"
        path: "{folder}/{{{{ inventory_hostname }}}}.json"
      check_mode: true
      register: more
    - name: What the actions answered
      ansible.builtin.copy:
        content: "{{{{ {{'prepared': prepared, 'same': same, 'swapped': swapped, 'more': more}} | to_json }}}}"
        dest: "{answers}/{{{{ inventory_hostname }}}}.json"
        mode: "0600"
"""


def test_the_roles_input_of_every_host_in_one_task_is_each_host_s_own(tmp_path):
    """converged with hosts: each host's roles' input from its own variables
    (the two hosts rotate differently), the same digests its own task works
    out (its record holds them), taken by its check as prepared (another
    host's are not its own); prepared for other roles, worked out again."""
    assert os.geteuid() == 0
    folder = pathlib.Path("/run") / f"pydeploy-test-converged-{uuid.uuid4().hex}"
    folder.mkdir(mode=0o755)
    try:
        answers = tmp_path / "answers"
        answers.mkdir()
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(json.dumps({"all": {"hosts": {"one": {"logrotate_rotate": 7}, "two": {"logrotate_rotate": 30}},
                                                 "vars": {"ansible_python_interpreter": sys.executable}}}))
        playbook = tmp_path / "play.yml"
        playbook.write_text(PREPARED_PLAY.format(folder=folder, answers=answers))
        env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
        out = subprocess.run(["ansible-playbook", "-i", str(inventory), str(playbook)], capture_output=True, text=True, cwd=ROOT, env=env,
                             timeout=300, check=False)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
        got = {host: json.loads((answers / f"{host}.json").read_text()) for host in ("one", "two")}
        hosts = got["one"]["prepared"]["hosts"]
        assert set(hosts) == {"one", "two"} and hosts["one"]["roles"] == ["pydeploy.wsgi.logrotate"], hosts
        assert hosts["one"]["digests"] != hosts["two"]["digests"], hosts
        assert hosts["one"]["watches"] == hosts["two"]["watches"], hosts
        for host in ("one", "two"):
            assert got[host]["same"]["unchanged"] is True, got[host]["same"]
            assert got[host]["swapped"]["reason"] == "the input changed: pydeploy.wsgi.logrotate", got[host]["swapped"]
            assert got[host]["more"]["reason"] == "the input changed: pydeploy.wsgi.python", got[host]["more"]
            recorded = json.loads((folder / f"{host}.json").read_text())
            assert recorded["inputs"]["pydeploy.wsgi.logrotate"] == hosts[host]["digests"]["pydeploy.wsgi.logrotate"], recorded["inputs"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
