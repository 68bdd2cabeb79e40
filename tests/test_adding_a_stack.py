"""docs/docsite/rst/adding-a-stack.rst, followed: an app server added to a
copy of the collection by the doc's steps, and by nothing else, is taken up
by the playbooks.

The server added is Waitress (pure Python, HTTP on a unix socket). Each
step_* function below writes what the doc's step of that number says, in a
copy of the collection; the tests then show that the steps were enough:
they changed nothing outside the new role but the registry and what
scripts/wiring-json writes from it, site.yml runs the role's tasks where the
host serves the app (and their tags work), its input is checked with every
role's before anything changes (a bad value refused naming it, the new pair
accepted by site.yml and deploy.yml, another refused), and its contract
reaches the app role, log rotation and the front end, an inventory value
winning. A step the doc leaves out shows as a failure here.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
# What the copy holds: the collection's content, as installed.
CONTENT = ("galaxy.yml", "meta", "plugins", "playbooks", "roles")
# A container that does not exist: a run that passes the checks fails on
# its first contact with the host, unreachable.
HOST = "pydeploy-unreachable"
REACH = {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3",
         "ansible_host": HOST}
FIRST_ROLE_TASK = "TASK [pydeploy.wsgi.app : Prepare the source on the controller]"
FIRST_DEPLOY_TASK = "TASK [Take or release the lock of the app on the host]"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def step_1_a_role(collection):
    """1. A role, one concern, with both entry points' argument spec, its
    checks (a range among them), validate.yml copied from another role's,
    main.yml, run.yml (ending itself where the play does not run it),
    an empty contract.yml, meta/main.yml, and what it manages on the host
    (__<role>_watch) in its vars."""
    role = collection / "roles" / "waitress"
    meta = yaml.safe_load((ROOT / "roles" / "uwsgi" / "meta" / "main.yml").read_text())
    meta["galaxy_info"].update(role_name="waitress", description="Waitress serving the app under systemd.")
    write(role / "meta" / "main.yml", "---\n" + yaml.safe_dump(meta, sort_keys=False))
    options = {
        "waitress_app_name": {"type": "str", "description": "Name of the app served."},
        "waitress_user": {"type": "str", "description": "User the server runs as."},
        "waitress_threads": {"type": "int", "description": "Threads serving requests."},
        "waitress_socket_path": {"type": "path", "description": "The server's unix socket."},
        "waitress_log_dir": {"type": "path", "description": "Where the server logs."},
        "waitress_packages": {"type": "list", "elements": "str", "description": "Packages of each release's venv."},
        "waitress_system_packages": {"type": "list", "elements": "str", "description": "Debian packages before a trial."},
        "waitress_trial_argv": {"type": "list", "elements": "str", "description": "How a release is tried."},
        "waitress_trial_endpoint": {"type": "str", "description": "Where a trial answers."},
        "waitress_switch_argv": {"type": "list", "elements": "str", "description": "How the service takes a release."},
        "waitress_live_path": {"type": "path", "description": "The file whose age tells a release is live."},
        "waitress_unit": {"type": "str", "description": "The service's unit."},
        "waitress_health_endpoint": {"type": "str", "description": "Where the health check reaches the service."},
        "waitress_logrotate": {"type": "list", "elements": "dict", "description": "Rotation of the server's logs."},
        "waitress_sandbox": {"type": "dict", "description": "The unit's sandbox."},
        "waitress_sandbox_overrides": {"type": "dict", "description": "Directives replacing the sandbox's."},
    }
    spec = {"argument_specs": {
        "main": {"short_description": "Run the app under Waitress.", "options": options},
        "validate": {"short_description": "Check the role's input.", "options": options},
    }}
    write(role / "meta" / "argument_specs.yml", "---\n" + yaml.safe_dump(spec, sort_keys=False))
    write(role / "meta" / "checks.yml", """---
ranges:
  waitress_threads: {min: 1, max: 64}
checks:
  - ok: "{{ waitress_socket_path is match('^/run/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+[.]sock\\\\Z') and '..' not in waitress_socket_path }}"
    msg: "waitress_socket_path must be a socket in a folder of /run (got {{ waitress_socket_path | to_json }})"
""")
    write(role / "tasks" / "validate.yml", (ROOT / "roles" / "uwsgi" / "tasks" / "validate.yml").read_text().replace("uwsgi", "waitress"))
    write(role / "tasks" / "main.yml", (ROOT / "roles" / "uwsgi" / "tasks" / "main.yml").read_text())
    write(role / "tasks" / "contract.yml", "---\n[]\n")
    write(role / "tasks" / "run.yml", """---
- name: End the role on a host the play does not run it on
  ansible.builtin.import_tasks: ../../../playbooks/tasks/end-role.yml

- name: Write the unit of Waitress
  ansible.builtin.debug:
    msg: "{{ waitress_unit }} on {{ waitress_socket_path }}, {{ waitress_threads }} threads"
  tags: [waitress, waitress_config]
""")


def step_2_the_contract(collection):
    """2. The contract's options in the role's defaults (those that follow
    the shared pydeploy_* values read them there), and the contract, one
    mapping in its vars handing each over under the contract's names."""
    role = collection / "roles" / "waitress"
    write(role / "defaults" / "main.yml", """---
waitress_app_name: "{{ pydeploy_app_name | default('app') }}"
waitress_user: "{{ pydeploy_app_user | default(pydeploy_app_name | default(waitress_app_name)) }}"
waitress_threads: 4
waitress_socket_path: "{{ pydeploy_socket | default('/run/' ~ pydeploy_app_name | default(waitress_app_name) ~ '/waitress.sock') }}"
waitress_log_dir: "/var/log/{{ pydeploy_app_name | default(waitress_app_name) }}"
waitress_packages: [waitress]
waitress_system_packages: []
waitress_trial_argv: ["{release}/venv/bin/waitress-serve", "--unix-socket={socket}", "{wsgi_app}"]
waitress_trial_endpoint: "unix:{socket}"
waitress_switch_argv: [systemctl, restart, "{{ waitress_app_name }}.service"]
waitress_live_path: "/etc/systemd/system/{{ waitress_app_name }}.service"
waitress_unit: "{{ waitress_app_name }}.service"
waitress_health_endpoint: "unix:{{ waitress_socket_path }}"
waitress_logrotate:
  - name: "{{ waitress_app_name }}"
    paths: ["{{ waitress_log_dir }}/*.log"]
waitress_sandbox: "{{ [waitress_log_dir] | pydeploy.wsgi.sandbox }}"
waitress_sandbox_overrides: {}
""")
    write(role / "vars" / "main.yml", """---
__waitress_sandbox: "{{ waitress_sandbox | combine(waitress_sandbox_overrides) }}"
__waitress_watch:
  files: ["{{ waitress_live_path }}"]
  units: ["{{ waitress_unit }}"]
__waitress_contract:
  packages: "{{ waitress_packages }}"
  system_packages: "{{ waitress_system_packages }}"
  trial_argv: "{{ waitress_trial_argv }}"
  trial_endpoint: "{{ waitress_trial_endpoint }}"
  switch_argv: "{{ waitress_switch_argv }}"
  live_path: "{{ waitress_live_path }}"
  started_argv: []
  sandbox: "{{ __waitress_sandbox }}"
  unit: "{{ waitress_unit }}"
  health_endpoint: "{{ waitress_health_endpoint }}"
  logrotate: "{{ waitress_logrotate }}"
  socket_path: "{{ waitress_socket_path }}"
""")


def step_3_the_registry(collection):
    """3. One line in __pydeploy_app_servers (the front ends it goes
    behind among what it says), then scripts/wiring-json."""
    wiring = collection / "playbooks" / "vars" / "wiring.yml"
    text = wiring.read_text()
    line = "  uwsgi: {name: uWSGI, "
    assert text.count(line) == 1
    entry = ("  waitress: {name: Waitress, role: pydeploy.wsgi.waitress, contract: __waitress_contract, protocol: http,"
             " split: true, journal: true, behind: [nginx]}\n")
    end_of_line = text.index("\n", text.index(line)) + 1
    wiring.write_text(text[:end_of_line] + entry + text[end_of_line:])
    subprocess.run([sys.executable, str(collection / "scripts" / "wiring-json")], check=True, timeout=60)


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """A copy of the collection with Waitress added by the doc's steps (the
    later ones say what the role does and how it is tested, which the
    tests below stand for)."""
    base = tmp_path_factory.mktemp("adding-a-stack")
    collection = base / "collections" / "ansible_collections" / "pydeploy" / "wsgi"
    collection.mkdir(parents=True)
    for name in CONTENT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, collection / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, collection / name)
    write(collection / "scripts" / "wiring-json", (ROOT / "scripts" / "wiring-json").read_text())
    config = (ROOT / "ansible.cfg").read_text()
    assert config.count("collections_path = ./collections:") == 1
    write(collection / "ansible.cfg", config.replace("collections_path = ./collections:", f"collections_path = {base / 'collections'}:"))
    step_1_a_role(collection)
    step_2_the_contract(collection)
    step_3_the_registry(collection)
    return collection


def run(collection, playbook, hosts, *args, json_output=False):
    """ansible-playbook in the copy, with the demo inventory's group_vars
    and these hosts in its web group."""
    inventory = collection.parent / f"inventory-{abs(hash((playbook, json.dumps(hosts), args)))}"
    inventory.mkdir()
    (inventory / "group_vars").symlink_to(ROOT / "inventories" / "demo" / "group_vars")
    write(inventory / "hosts.yml", yaml.safe_dump({"all": {"children": {"web": {"hosts": hosts}}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(collection / "ansible.cfg"), ANSIBLE_GATHERING="explicit", ANSIBLE_NOCOLOR="1",
               ANSIBLE_VAULT_PASSWORD_FILE=str(ROOT / "inventories" / "demo" / "vault-password.txt"),
               PYDEPLOY_EXAMPLES_DIR=str(ROOT / "examples"))
    if json_output:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
    path = playbook if pathlib.Path(playbook).is_absolute() else collection / "playbooks" / playbook
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), str(path), *args], capture_output=True, text=True,
                            cwd=collection, env=env, timeout=300, check=False)
    return result.returncode, result.stdout + ("" if json_output else result.stderr)


def test_the_steps_touch_the_role_one_registry_line_and_what_the_script_writes_only(collection):
    changed = set()
    for name in CONTENT:
        source = ROOT / name
        files = [source] if source.is_file() else [path for path in source.rglob("*") if path.is_file() and "__pycache__" not in path.parts]
        copied = [collection / path.relative_to(ROOT) for path in files]
        changed |= {str(path.relative_to(ROOT)) for path, copy in zip(files, copied) if copy.read_bytes() != path.read_bytes()}
        changed |= {str(path.relative_to(collection)) for path in (collection / name).rglob("*") if path.is_file()
                    and "__pycache__" not in path.parts and not (ROOT / path.relative_to(collection)).exists()
                    and not path.relative_to(collection).parts[:2] == ("roles", "waitress")}
    assert changed == {"playbooks/vars/wiring.yml", "playbooks/vars/wiring.json", "playbooks/site.yml"}
    # In wiring.yml, one line more.
    before = (ROOT / "playbooks" / "vars" / "wiring.yml").read_text().splitlines()
    after = (collection / "playbooks" / "vars" / "wiring.yml").read_text().splitlines()
    assert [line for line in after if line not in before] == [line for line in after if line.startswith("  waitress: ")]
    assert len(after) == len(before) + 1
    # site.yml imports the role among the app servers, from the registry.
    site = (collection / "playbooks" / "site.yml").read_text()
    app_servers = site[site.index("# The registry's app servers"):site.index("# The end of the registry's app servers.")]
    assert "name: pydeploy.wsgi.waitress\n" in app_servers


def test_site_yml_runs_the_role_after_the_app_s_and_its_tags_alone(collection):
    hosts = {HOST: {**REACH, "pydeploy_app_server": "waitress"}}
    rc, out = run(collection, "site.yml", hosts, "--list-tasks")
    assert rc == 0, out[-3000:]
    tasks = [line.split("\t")[0].strip() for line in out.splitlines() if "\tTAGS:" in line]
    ours = tasks.index("pydeploy.wsgi.waitress : Write the unit of Waitress")
    assert max(i for i, task in enumerate(tasks) if task.startswith("pydeploy.wsgi.app : ")) < ours
    assert ours < min(i for i, task in enumerate(tasks) if task.startswith("pydeploy.wsgi.tls : "))
    # The role's tag alone: its task, and only the tasks every run has.
    rc, out = run(collection, "site.yml", hosts, "--list-tasks", "--tags", "waitress_config")
    assert rc == 0, out[-3000:]
    listed = [line.strip().split("\tTAGS: ") for line in out.splitlines() if "\tTAGS:" in line and "play #" not in line]
    assert [task for task, tags in listed if "always" not in tags] == ["pydeploy.wsgi.waitress : Write the unit of Waitress"]


@pytest.mark.parametrize(("playbook", "first_task"), [("site.yml", FIRST_ROLE_TASK), ("deploy.yml", FIRST_DEPLOY_TASK)])
def test_the_new_pair_passes_the_checks_and_goes_on_to_the_host(collection, playbook, first_task):
    rc, out = run(collection, playbook, {HOST: {**REACH, "pydeploy_app_server": "waitress"}})
    assert rc != 0, out[-3000:]
    assert first_task in out, out[-3000:]
    # It fails on the host it cannot reach (no such container; or no Docker
    # engine yet, where these tests run beside the engine's start), and on
    # nothing before.
    failure = out[out.index("fatal: "):]
    unreached = f"No such container: {HOST}" in failure or "Cannot connect to the Docker daemon" in failure
    assert out.index(first_task) < out.index("fatal: ") and unreached, out[-3000:]
    assert re.search(rf"^{HOST}\s+: .*changed=0 .*failed=1 ", out, re.M), out[-3000:]


BAD_INPUT = {
    "range": ({"waitress_threads": 0}, "pydeploy.wsgi.waitress: waitress_threads must be 1 to 64 (got 0)"),
    "check": ({"waitress_socket_path": "/run/hello/../../etc/x.sock"}, "waitress_socket_path must be a socket in a folder of /run"),
    "argument spec": ({"waitress_threads": "many"}, "waitress_threads"),
    "another pair": ({"pydeploy_front_end": "apache"}, "nginx + uwsgi, nginx + waitress."),
}


@pytest.fixture(scope="module")
def refusals(collection):
    """One run of site.yml over a host a case: the input checks are one
    task, which fails each host with its own message before the play stops."""
    hosts = {name.replace(" ", "-"): {**REACH, "pydeploy_app_server": "waitress", **variables}
             for name, (variables, _) in BAD_INPUT.items()}
    rc, out = run(collection, "site.yml", hosts, json_output=True)
    assert rc != 0, out[-3000:]
    data = json.loads(out[out.index("{"):])
    tasks = [task for play in data["plays"] for task in play["tasks"]]
    # The play stopped at the checks: no role task began.
    assert "Prepare the source on the controller" not in [task["task"]["name"] for task in tasks], [task["task"]["name"] for task in tasks]
    assert len(tasks) < 5, [task["task"]["name"] for task in tasks]
    return {name: (data["stats"][host], " ".join(str(task["hosts"][host].get("msg", "")) for task in tasks
                                                 if task["hosts"].get(host, {}).get("failed")))
            for name, host in zip(BAD_INPUT, hosts)}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_for_the_new_server_is_refused_before_the_host(refusals, case):
    stats, failure = refusals[case]
    assert BAD_INPUT[case][1] in re.sub(r"\s+", " ", failure), failure
    assert (stats["changed"], stats["failures"], stats["unreachable"]) == (0, 1, 0), stats


def test_the_contract_reaches_the_app_role_log_rotation_and_the_front_end(collection):
    site = yaml.safe_load((collection / "playbooks" / "site.yml").read_text())[0]

    def imported(tasks):
        for task in tasks:
            yield from imported(task.get("block", []))
            if "ansible.builtin.import_role" in task:
                yield task["ansible.builtin.import_role"]["name"]

    roles = list(dict.fromkeys(imported(site["tasks"])))
    assert "pydeploy.wsgi.waitress" in roles
    shown = ["app_server_packages", "app_server_trial_argv", "app_server_switch_argv", "app_service_name", "app_health_endpoint",
             "app_server_sandbox", "logrotate_dependent_configs", "nginx_upstream_socket", "nginx_upstream_protocol"]
    play = [{"name": "Print what the roles get", "hosts": "all", "gather_facts": False,
             "vars_files": [str(collection / "playbooks" / "vars" / "wiring.json")],
             "tasks": [{"name": f"Import {role}", "ansible.builtin.import_role": {"name": role, "tasks_from": "validate",
                                                                                 "rolespec_validate": False}, "when": False}
                       for role in roles]
             + [{"name": "Print them", "ansible.builtin.debug": {"msg": {name: "{{ %s }}" % name for name in shown}}}]}]
    write(collection.parent / "contract.yml", yaml.safe_dump(play))
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}", "pydeploy_app_server": "waitress"}
    hosts = {"published": local, "given": {**local, "waitress_socket_path": "/run/shop/w.sock", "waitress_sandbox_overrides": {"PrivateTmp": False}}}
    rc, out = run(collection, str(collection.parent / "contract.yml"), hosts, json_output=True)
    assert rc == 0, out[-3000:]
    found = {host: result["msg"] for host, result in json.loads(out[out.index("{"):])["plays"][0]["tasks"][-1]["hosts"].items()}
    published, given = found["published"], found["given"]
    assert published["app_server_packages"] == ["waitress"]
    assert published["app_server_trial_argv"] == ["{release}/venv/bin/waitress-serve", "--unix-socket={socket}", "{wsgi_app}"]
    assert published["app_server_switch_argv"] == ["systemctl", "restart", "hello.service"]
    assert published["app_service_name"] == "hello.service"
    assert published["nginx_upstream_protocol"] == "http"
    assert published["logrotate_dependent_configs"] == [{"name": "hello", "paths": ["/var/log/hello/*.log"]}]
    assert published["app_server_sandbox"]["PrivateTmp"] is True
    for host, printed in found.items():
        socket = "/run/shop/w.sock" if host == "given" else "/run/hello/waitress.sock"
        assert (printed["nginx_upstream_socket"], printed["app_health_endpoint"]) == (socket, f"unix:{socket}"), host
    assert given["app_server_sandbox"]["PrivateTmp"] is False
