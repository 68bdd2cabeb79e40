"""The run lock (plugins/modules/run_lock.py) against what a local user, the
app included, can leave in its way: a FIFO, a link, JSON that is no object,
a world-writable folder. Each case runs the real module, as Ansible would on
a host, in a folder of root's in /run.
"""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import uuid

import pytest
# The action plugin: who this run is, which holder is gone (tests/conftest.py makes the checkout the collection).
from ansible_collections.pydeploy.wsgi.plugins.action import run_lock as action

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODULE = ROOT / "plugins" / "modules" / "run_lock.py"
HOLDER = {"id": "ci:1:1", "controller": "ci", "pid": 1, "user": "test", "since": "2026-12-02T00:00:00Z"}


def run_module(path, state="present", holder=None):
    """(result, seconds budget kept): the module's JSON answer for one call."""
    args = {"ANSIBLE_MODULE_ARGS": {"path": str(path), "state": state, "holder": holder or HOLDER}}
    out = subprocess.run(
        [sys.executable, str(MODULE)], input=json.dumps(args), capture_output=True, text=True, timeout=30, check=False
    )
    return json.loads(out.stdout)


@pytest.fixture
def lock_dir():
    """A folder of root's alone, in /run as on a host (a checkout or /tmp may
    sit below a folder others may write)."""
    assert os.geteuid() == 0, "the run lock's tests run as root, as the module does on a host"
    folder = pathlib.Path("/run") / f"pydeploy-test-run-lock-{uuid.uuid4().hex}"
    folder.mkdir(mode=0o700)
    folder.chmod(0o700)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_lock_is_taken_and_released_as_a_root_only_file(lock_dir):
    path = lock_dir / "lock" / "hello.lock"
    taken = run_module(path)
    assert taken["acquired"] is True, taken
    # The missing folder was made root's alone, the file readable by root only.
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert (path.stat().st_mode & 0o777) == 0o600
    assert json.loads(path.read_text())["id"] == HOLDER["id"]
    other = run_module(path, holder={**HOLDER, "id": "ci:2:2"})
    assert other["acquired"] is False and other["holder"]["id"] == HOLDER["id"]
    released = run_module(path, state="absent")
    assert released["changed"] is True and not path.exists()


def test_a_world_writable_folder_is_refused(lock_dir):
    # /run/lock is 1777: any local user could plant what blocks every run.
    shared = lock_dir / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    answer = run_module(shared / "hello.lock")
    assert answer.get("failed") is True, answer
    assert f"{shared} is owned by uid 0 with mode 1777" in answer["msg"]
    assert not (shared / "hello.lock").exists()


def test_a_folder_of_another_user_is_refused(lock_dir):
    theirs = lock_dir / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    answer = run_module(theirs / "hello.lock")
    assert answer.get("failed") is True, answer
    assert f"{theirs} is owned by uid 65534" in answer["msg"]


def test_a_link_on_the_way_is_not_followed(lock_dir):
    real = lock_dir / "real"
    real.mkdir(mode=0o700)
    (lock_dir / "via").symlink_to(real)
    answer = run_module(lock_dir / "via" / "hello.lock")
    assert answer.get("failed") is True, answer
    assert f"{lock_dir}/via is a link" in answer["msg"]
    assert list(real.iterdir()) == []


def test_a_link_at_the_lock_path_is_refused_and_its_target_untouched(lock_dir):
    target = lock_dir / "target"
    target.write_text("not a lock\n")
    (lock_dir / "hello.lock").symlink_to(target)
    for state in ("present", "absent"):
        answer = run_module(lock_dir / "hello.lock", state=state)
        assert answer.get("failed") is True, answer
        assert "could not be opened without following a link" in answer["msg"]
    assert target.read_text() == "not a lock\n"


def test_a_fifo_at_the_lock_path_is_refused_without_hanging(lock_dir):
    # Opened without O_NONBLOCK, a FIFO with no writer hangs the run (the
    # subprocess timeout of 30 s would fail this test).
    os.mkfifo(lock_dir / "hello.lock")
    answer = run_module(lock_dir / "hello.lock")
    assert answer.get("failed") is True, answer
    assert f"{lock_dir}/hello.lock is not a regular file of root's" in answer["msg"]


@pytest.mark.parametrize("content", ["[]", '"text"', "42", "{not json", ""])
def test_a_lock_file_that_holds_no_object_is_a_busy_unreadable_lock(lock_dir, content):
    (lock_dir / "hello.lock").write_text(content)
    answer = run_module(lock_dir / "hello.lock")
    assert answer.get("failed") is not True, answer
    assert answer["acquired"] is False
    assert answer["holder"] == {"id": "", "unreadable": True}


def test_the_module_without_a_holder_fails_saying_so(lock_dir):
    args = {"ANSIBLE_MODULE_ARGS": {"path": str(lock_dir / "hello.lock")}}
    out = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(args), capture_output=True, text=True, timeout=30, check=False)
    answer = json.loads(out.stdout)
    assert answer["failed"] and "holder must be a dict with an id" in answer["msg"], answer
    assert not (lock_dir / "hello.lock").exists()


def test_a_task_takes_over_the_lock_of_a_run_it_names_as_gone(lock_dir, tmp_path):
    # Another controller's run, known to be over: its id given as take_over.
    path = lock_dir / "hello.lock"
    gone = {**HOLDER, "id": "other-controller:4242:1", "controller": "other-controller"}
    assert run_module(path, holder=gone)["acquired"] is True
    playbook = tmp_path / "lock.yml"
    playbook.write_text(
        "- name: Take a lock a gone run left\n  hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  vars:\n    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n  tasks:\n"
        "    - name: Take it over\n      pydeploy.wsgi.run_lock:\n"
        f"        path: {path}\n        timeout: 3\n        take_over: {gone['id']}\n"
    )
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run(["ansible-playbook", "-i", "localhost,", str(playbook)], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert json.loads(path.read_text())["id"] != gone["id"]


def _ended_pid():
    """A process id that named a process of this namespace, now ended."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    return ended.pid


def test_a_gone_run_of_this_controller_is_known_gone_and_a_live_one_is_not():
    here, mine = socket.gethostname(), action.controller_namespace()
    assert mine and mine.count(":") == 1, mine
    pid = _ended_pid()
    ended = {**HOLDER, "id": f"{here}:{pid}:1", "controller": here, "namespace": mine, "pid": pid}
    assert action.gone(ended)
    live = {**HOLDER, "id": action._run_id(os.getpid()), "controller": here, "namespace": mine, "pid": os.getpid()}
    assert not action.gone(live)
    # This run's own record names its namespace.
    assert action.this_run()["namespace"] == mine


@pytest.mark.parametrize("pid", ["ended", "reused"])
def test_a_run_of_another_pid_namespace_with_the_same_host_name_is_not_taken_for_gone(pid):
    # A controller in a container with the host's network (or another
    # machine of the same name): its process ids name other processes here,
    # or none. Its live run was taken for gone, and its lock taken over
    # while it deployed (two runs then built one release at once).
    here = socket.gethostname()
    number = _ended_pid() if pid == "ended" else os.getpid()
    namespace = "6c1f0d52-3a8e-4f0b-9a51-2f0d4c7e9b11:4026532999"
    other = {**HOLDER, "id": f"{here}:{number}:12345", "controller": here, "namespace": namespace, "pid": number}
    assert not action.gone(other)
    # A lock written before runs named their namespace: not known gone either.
    old = {key: value for key, value in other.items() if key != "namespace"}
    assert not action.gone(old)
