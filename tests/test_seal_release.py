"""Sealing a release the app user built (roles/app/files/seal_release.py),
case by case, as root does it on a host: what an attacker can plant in the
app's code or a dependency's build (links out, links through links, FIFOs,
hard links, set-user-ID files, a .pydeploy of its own) and what a release
legitimately holds (links inside it, the venv's interpreter)."""

import os
import pathlib
import socket
import stat
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEAL = ROOT / "roles" / "app" / "files" / "seal_release.py"
INTERPRETER = "/usr/bin/python3"
NOBODY = 65534


def seal(release):
    """(exit code, the reasons it printed, one per line)."""
    out = subprocess.run([sys.executable, str(SEAL), str(release), "nogroup", INTERPRETER],
                         capture_output=True, text=True, timeout=60, check=False)
    return out.returncode, out.stderr.strip().splitlines()


@pytest.fixture
def release(tmp_path):
    """A release as a build leaves it: code and a venv, all the app user's."""
    assert os.geteuid() == 0, "sealing changes owners: the tests run as root, as the role does"
    top = tmp_path / "release"
    (top / "hello" / "static").mkdir(parents=True)
    (top / "hello" / "__init__.py").write_text("x = 1\n")
    (top / "hello" / "static" / "site.css").write_text("body {}\n")
    (top / "venv" / "bin").mkdir(parents=True)
    (top / "venv" / "lib").mkdir()
    (top / "venv" / "bin" / "python3").symlink_to(INTERPRETER)
    (top / "venv" / "bin" / "python").symlink_to("python3")
    (top / "venv" / "lib64").symlink_to("lib")
    (top / "static").symlink_to("hello/static")
    for path in [top, *top.rglob("*")]:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    return top


def test_a_clean_release_is_sealed_roots_and_read_only(release):
    (release / "hello" / "run.sh").write_text("#!/bin/sh\n")
    (release / "hello" / "run.sh").chmod(0o6777)
    (release / "hello" / "secret.txt").write_text("only mine\n")
    (release / "hello" / "secret.txt").chmod(0o600)
    (release / "hello").chmod(0o1777)
    os.chown(release / "hello" / "run.sh", NOBODY, NOBODY)
    rc, reasons = seal(release)
    assert (rc, reasons) == (0, [])
    nogroup = 65534
    for path in [release, *release.rglob("*")]:
        info = os.lstat(path)
        assert (info.st_uid, info.st_gid) == (0, nogroup), path
        if not stat.S_ISLNK(info.st_mode):
            assert not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH | stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), path
    # Set-user-ID and the sticky bit gone, executable kept; the group reads
    # what only the owner read; the others keep what the source let them.
    assert stat.S_IMODE(os.stat(release / "hello" / "run.sh").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(release / "hello" / "secret.txt").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(release / "hello").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(release / "hello" / "static" / "site.css").st_mode) & 0o004


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("shadow", "/etc/shadow"),
        ("keys", "/etc/ssl/pydeploy/private"),
        ("host", "/"),
        ("up", ".."),
        ("hello/up2", "../.."),
        ("hello/walk", "static/../../../etc"),
        # Through a link inside the release (static -> hello/static).
        ("through", "static/../../../x"),
        ("loop", "loop2"),
        # The interpreter, but not from the venv's bin/.
        ("python", INTERPRETER),
        ("venv/bin/sneaky", "/etc/shadow"),
    ],
)
def test_a_link_out_of_the_release_is_refused_naming_it(release, name, target):
    (release / name).symlink_to(target)
    if name == "loop":
        (release / "loop2").symlink_to("loop")
    rc, reasons = seal(release)
    assert rc == 1
    assert f"{name}: a link to {target}, outside the release" in reasons, reasons
    # Its target was not touched: /etc/shadow keeps its owner.
    if target == "/etc/shadow":
        assert os.stat("/etc/shadow").st_uid == 0 and os.stat("/etc/shadow").st_gid != 65534


def test_links_inside_the_release_are_kept(release):
    (release / "hello" / "here").symlink_to("__init__.py")
    (release / "hello" / "static" / "back").symlink_to("../../static/site.css")
    rc, reasons = seal(release)
    assert (rc, reasons) == (0, [])
    assert os.readlink(release / "hello" / "here") == "__init__.py"


def test_a_fifo_or_a_socket_is_refused(release):
    os.mkfifo(release / "hello" / "pipe")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(release / "hello" / "sock"))
    listener.close()
    rc, reasons = seal(release)
    assert rc == 1
    for name in ("pipe", "sock"):
        assert f"hello/{name}: a FIFO, socket or device; a release holds folders, files and links only" in reasons


def test_a_hard_link_to_a_file_outside_is_refused_and_one_inside_kept(release, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("not the release's\n")
    os.chown(outside, NOBODY, NOBODY)
    os.link(outside, release / "hello" / "linked.txt")
    rc, reasons = seal(release)
    assert rc == 1
    assert "hello/linked.txt: a hard link to a file outside the release (2 links)" in reasons
    os.unlink(release / "hello" / "linked.txt")
    os.link(release / "hello" / "__init__.py", release / "hello" / "same.py")
    assert seal(release) == (0, [])


def test_the_code_may_not_hold_pydeploy(release):
    (release / ".pydeploy").mkdir()
    (release / ".pydeploy" / "complete").write_text("forged\n")
    rc, reasons = seal(release)
    assert rc == 1
    assert ".pydeploy: the code may not hold .pydeploy, the folder of the role's own records" in reasons


def test_the_top_may_not_be_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "release").symlink_to(tmp_path / "real")
    out = subprocess.run([sys.executable, str(SEAL), str(tmp_path / "release"), "nogroup"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode != 0
    assert "Too many levels of symbolic links" in out.stderr or "ELOOP" in out.stderr or "Not a directory" in out.stderr


def test_the_code_check_changes_nothing_and_refuses_a_venv_of_its_own(release):
    # --code: right after unpacking, before anything runs; the venv is the
    # build's to make, so one in the code is refused.
    (release / "shadow").symlink_to("/etc/shadow")
    os.chown(release / "shadow", NOBODY, NOBODY, follow_symlinks=False)
    out = subprocess.run([sys.executable, str(SEAL), "--code", str(release), "nogroup"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1
    reasons = out.stderr.strip().splitlines()
    assert "shadow: a link to /etc/shadow, outside the release" in reasons
    assert "venv: the code may not hold venv, the release's virtualenv (the build makes it)" in reasons
    assert all(os.lstat(path).st_uid == NOBODY for path in [release, *release.rglob("*")])
