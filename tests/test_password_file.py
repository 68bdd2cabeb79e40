"""The basic auth password file (plugins/modules/password_file.py), run as
Ansible runs it on a host: each password hashed by OpenSSL with a salt of
its own, a run with the same passwords changing nothing, a changed or
removed user changing its line only, the mode and group set, check mode
writing nothing, and no password or hash in what the module answers."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODULE = ROOT / "plugins" / "modules" / "password_file.py"
ALICE = "correct horse battery staple"
BOB = "p@ss:word with spaces; {braces} $dollar"


def run_module(path, users, check=False, **extra):
    args = {"path": str(path), "users": users, "mode": "0640", "group": "root", "_ansible_check_mode": check, **extra}
    out = subprocess.run(
        [sys.executable, str(MODULE)], input=json.dumps({"ANSIBLE_MODULE_ARGS": args}),
        capture_output=True, text=True, timeout=60, check=False,
    )
    return json.loads(out.stdout), out.stdout + out.stderr


def hashes(path):
    return dict(line.split(":", 1) for line in path.read_text().splitlines())


def verifies(password, line_hash):
    """Whether line_hash is the SHA-512 crypt hash of password (hashed again
    with its salt by OpenSSL, as the front ends' crypt() checks it)."""
    salt = line_hash.split("$")[2]
    out = subprocess.run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input=password + "\n",
                         capture_output=True, text=True, check=True)
    return out.stdout.strip() == line_hash


def test_each_password_is_hashed_with_its_own_salt_and_a_second_run_changes_nothing(tmp_path):
    path = tmp_path / "site.htpasswd"
    users = [{"name": "alice", "password": ALICE}, {"name": "bob", "password": BOB}]
    result, output = run_module(path, users)
    assert result["changed"] is True and result["users"] == ["alice", "bob"], result
    written = hashes(path)
    assert list(written) == ["alice", "bob"]
    assert all(value.startswith("$6$") for value in written.values()), written
    assert written["alice"].split("$")[2] != written["bob"].split("$")[2]
    assert verifies(ALICE, written["alice"]) and verifies(BOB, written["bob"])
    assert not verifies(BOB, written["alice"])
    assert path.stat().st_mode & 0o777 == 0o640
    # Neither a password nor a hash in what the module says.
    for secret in (ALICE, BOB, *written.values()):
        assert secret not in output
    before = path.read_bytes()
    again, _ = run_module(path, users)
    assert again["changed"] is False, again
    assert path.read_bytes() == before


def test_a_changed_password_changes_its_line_and_a_user_left_out_is_removed(tmp_path):
    path = tmp_path / "site.htpasswd"
    run_module(path, [{"name": "alice", "password": ALICE}, {"name": "bob", "password": BOB}])
    first = hashes(path)
    result, _ = run_module(path, [{"name": "alice", "password": ALICE}, {"name": "bob", "password": "a new one"}])
    assert result["changed"] is True
    second = hashes(path)
    assert second["alice"] == first["alice"] and second["bob"] != first["bob"]
    assert verifies("a new one", second["bob"])
    result, _ = run_module(path, [{"name": "alice", "password": ALICE}])
    assert result["changed"] is True and list(hashes(path)) == ["alice"]


def test_check_mode_says_what_would_change_and_writes_nothing(tmp_path):
    path = tmp_path / "site.htpasswd"
    result, _ = run_module(path, [{"name": "alice", "password": ALICE}], check=True)
    assert result["changed"] is True and not path.exists()
    run_module(path, [{"name": "alice", "password": ALICE}])
    before = path.read_bytes()
    result, _ = run_module(path, [{"name": "alice", "password": "another"}], check=True)
    assert result["changed"] is True and path.read_bytes() == before
    result, _ = run_module(path, [{"name": "alice", "password": ALICE}], check=True)
    assert result["changed"] is False


@pytest.mark.parametrize(
    ("users", "says"),
    [
        ([{"name": "al:ice", "password": ALICE}], "each name must be unique, without ':'"),
        ([{"name": "alice\nbob", "password": ALICE}], "each name must be unique"),
        ([{"name": "alice", "password": ALICE}, {"name": "alice", "password": BOB}], "each name must be unique"),
        ([{"name": "alice", "password": ALICE + "\nbob:$6$x$y"}], "each password must be one line, not empty"),
        ([{"name": "alice", "password": ALICE + "\u2028"}], "each password must be one line, not empty"),
        ([{"name": "alice", "password": ""}], "each password must be one line, not empty"),
    ],
)
def test_bad_users_are_refused_without_showing_a_password(tmp_path, users, says):
    path = tmp_path / "site.htpasswd"
    result, output = run_module(path, users)
    assert result.get("failed") is True and says in result["msg"], result
    assert not path.exists()
    for user in users:
        if user["password"]:
            assert user["password"] not in output


def test_absent_removes_the_file(tmp_path):
    path = tmp_path / "site.htpasswd"
    run_module(path, [{"name": "alice", "password": ALICE}])
    result, _ = run_module(path, [], state="absent")
    assert result["changed"] is True and not path.exists()
    result, _ = run_module(path, [], state="absent")
    assert result["changed"] is False
