"""Root takes the wheelhouse the app user's build packed
(roles/app/files/take_wheels.py) without trusting it: only plain wheel files
at the archive's top pass, into a new archive; a link (the archive itself,
or one of its members), a path out of the top, anything but a wheel file,
is refused, and nothing is written."""

import io
import os
import pathlib
import subprocess
import sys
import tarfile

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "roles" / "app" / "files" / "take_wheels.py"


def take(build, name="wheels.tar"):
    out = build.parent / "taken.tar"
    run = subprocess.run([sys.executable, str(SCRIPT), str(build), name, str(out)], capture_output=True, text=True, check=False)
    return run, out


def pack(build, members):
    """members: (name, kind, data) with kind file, dir, symlink or hardlink."""
    build.mkdir(exist_ok=True)
    with tarfile.open(build / "wheels.tar", "w") as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size, info.mode = len(data), 0o4755
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
                info.linkname = data.decode()
                tar.addfile(info)


def test_plain_wheels_pass_into_a_new_archive_of_plain_files(tmp_path):
    build = tmp_path / "build"
    pack(build, [(".", "dir", b""), ("./gunicorn-23.0.0-py3-none-any.whl", "file", b"one"),
                 ("Flask-3.1.3-py3-none-any.whl", "file", b"two")])
    run, out = take(build)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "2"
    with tarfile.open(out) as tar:
        members = tar.getmembers()
        assert [(m.name, m.isreg(), m.mode) for m in members] == [
            ("gunicorn-23.0.0-py3-none-any.whl", True, 0o644), ("Flask-3.1.3-py3-none-any.whl", True, 0o644)]
        assert tar.extractfile(members[1]).read() == b"two"
    assert not out.with_name("taken.tar.part").exists()


@pytest.mark.parametrize(
    "member",
    [
        ("evil.whl", "symlink", b"/etc/shadow"),
        ("evil.whl", "hardlink", b"/etc/shadow"),
        ("../evil.whl", "file", b"x"),
        ("sub/evil.whl", "file", b"x"),
        ("/tmp/evil.whl", "file", b"x"),
        ("setup.py", "file", b"x"),
        ("evil.whl\nnext.whl", "file", b"x"),
        ("sub", "dir", b""),
    ],
    ids=["symlink", "hard link", "dot-dot", "subfolder", "absolute", "not a wheel", "newline", "folder"],
)
def test_anything_but_a_plain_wheel_at_the_top_is_refused(tmp_path, member):
    build = tmp_path / "build"
    pack(build, [("ok-1.0-py3-none-any.whl", "file", b"ok"), member])
    run, out = take(build)
    assert run.returncode != 0
    assert "is not a wheel file at its top" in run.stderr, run.stderr
    assert not out.exists()


def test_an_archive_that_is_a_link_or_has_another_name_is_not_followed(tmp_path):
    secret = tmp_path / "secret.tar"
    pack(tmp_path / "elsewhere", [("ok-1.0-py3-none-any.whl", "file", b"ok")])
    os.replace(tmp_path / "elsewhere" / "wheels.tar", secret)
    build = tmp_path / "build"
    build.mkdir()
    (build / "wheels.tar").symlink_to(secret)
    run, out = take(build)
    assert run.returncode != 0 and "Too many levels of symbolic links" in run.stderr, run.stderr
    assert not out.exists()
    # A second name of another file (a hard link the app user made).
    (build / "wheels.tar").unlink()
    os.link(secret, build / "wheels.tar")
    run, out = take(build)
    assert run.returncode != 0 and "is not a plain file" in run.stderr, run.stderr
    # The build folder itself a link.
    os.rename(build, tmp_path / "real")
    build.symlink_to(tmp_path / "real")
    run, out = take(build)
    assert run.returncode != 0 and "Not a directory" in run.stderr, run.stderr
