"""The app role packs a folder source on the controller; runs side by side
(two inventories, or a test bed running scenarios at once) must each ship
their own folder, never an archive another run wrote."""

import concurrent.futures
import os
import stat
import time
import pathlib
import subprocess
import tarfile

ROOT = pathlib.Path(__file__).resolve().parent.parent

PLAYBOOK = """
- name: Pack a folder source
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Pack it as the app role does
      ansible.builtin.include_role:
        name: pydeploy.wsgi.app
        tasks_from: source_dir.yml
    - name: Report the archive
      ansible.builtin.copy:
        content: "{{ __app_artifact }} {{ __app_source_sha }}"
        dest: "{{ report }}"
        mode: "0644"
"""


def pack(playbook, cache, src, report):
    # The action makes the cache folder where it is missing (runs side by
    # side may both find it so).
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    cmd = [
        "ansible-playbook", "-i", "localhost,", str(playbook),
        "-e", f"app_src={src}", "-e", f"app_controller_cache_dir={cache}", "-e", f"report={report}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return report.read_text().split()


def test_runs_side_by_side_each_ship_their_own_folder(tmp_path):
    playbook = tmp_path / "pack.yml"
    playbook.write_text(PLAYBOOK)
    cache = tmp_path / "cache"
    sources = {}
    for name in ("one", "two", "three", "four"):
        src = tmp_path / "src" / name
        src.mkdir(parents=True)
        (src / "marker.txt").write_text(name * 1000)
        sources[name] = src
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(pack, playbook, cache, src, tmp_path / f"{name}.report") for name, src in sources.items()}
        reports = {name: future.result() for name, future in futures.items()}
    assert len({artifact for artifact, _ in reports.values()}) == 4, reports
    # The cache folder they made is the controller user's only.
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    for name, (artifact, _) in reports.items():
        with tarfile.open(artifact) as archive:
            assert archive.extractfile("./marker.txt").read().decode() == name * 1000, artifact
    # Nothing half-written is left behind.
    assert not list(cache.glob("*.part")), list(cache.iterdir())


def test_the_same_folder_packs_to_the_same_archive(tmp_path):
    playbook = tmp_path / "pack.yml"
    playbook.write_text(PLAYBOOK)
    src = tmp_path / "src"
    src.mkdir()
    (src / "marker.txt").write_text("same")
    first = pack(playbook, tmp_path / "cache", src, tmp_path / "first.report")
    second = pack(playbook, tmp_path / "cache", src, tmp_path / "second.report")
    assert first == second
    assert pathlib.Path(first[0]).name == f"dir-{first[1]}.tar.gz"


def test_archives_of_earlier_days_are_removed(tmp_path):
    playbook = tmp_path / "pack.yml"
    playbook.write_text(PLAYBOOK)
    cache = tmp_path / "cache"
    cache.mkdir()
    two_days_ago = time.time() - 2 * 86400
    old = [cache / "dir-0123.tar.gz", cache / "git-4567.tar.gz", cache / "dir-89ab.tar.gz.part"]
    for path in old:
        path.write_text("old")
        os.utime(path, (two_days_ago, two_days_ago))
    recent = cache / "dir-cdef.tar.gz"
    recent.write_text("another run's, of today")
    src = tmp_path / "src"
    src.mkdir()
    (src / "marker.txt").write_text("new")
    artifact, _ = pack(playbook, cache, src, tmp_path / "report")
    assert not [path for path in old if path.exists()]
    assert recent.exists()
    assert pathlib.Path(artifact).exists()


def test_secrets_and_data_stay_out_and_files_keep_their_modes(tmp_path):
    # A developer's folder: what is only theirs to read stays so, and their
    # .env, Flask's instance/ folder, keys and certificates are left out.
    playbook = tmp_path / "pack.yml"
    playbook.write_text(PLAYBOOK)
    src = tmp_path / "src"
    (src / "app" / "static").mkdir(parents=True)
    (src / "instance").mkdir()
    (src / "tls").mkdir()
    files = {
        "app/__init__.py": 0o644, "app/static/site.css": 0o644, "app/instance_helpers.py": 0o644,
        "settings_local.py": 0o600, "run.sh": 0o755,
        ".env": 0o600, ".env.production": 0o600, "instance/app.sqlite": 0o644,
        "tls/site.pem": 0o644, "tls/site.key": 0o600,
    }
    for name, mode in files.items():
        (src / name).write_text(name)
        (src / name).chmod(mode)
    (src / "app").chmod(0o700)
    artifact, _ = pack(playbook, tmp_path / "cache", src, tmp_path / "report")
    with tarfile.open(artifact) as archive:
        members = {member.name.removeprefix("./"): member.mode for member in archive.getmembers()}
    for left_out in (".env", ".env.production", "instance", "instance/app.sqlite", "tls/site.pem", "tls/site.key"):
        assert left_out not in members, left_out
    assert members["app/instance_helpers.py"] == 0o644
    assert members["app/static/site.css"] == 0o644
    assert members["settings_local.py"] == 0o600
    assert members["run.sh"] == 0o755
    # A folder only its owner could enter becomes traversable (the front end
    # reads static files under it), not listable.
    assert members["app"] == 0o711


def test_packing_needs_no_tar_gzip_or_mv_on_the_controller(tmp_path):
    # A controller without GNU tools (macOS's bsdtar refuses --sort): every
    # tar, gzip and mv on PATH fails, and the folder still packs, sorted,
    # the same bytes whatever the files' times, links kept as links,
    # setuid and setgid bits dropped.
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for tool in ("tar", "gtar", "gzip", "mv"):
        (stubs / tool).write_text("#!/bin/sh\necho \"$0 must not run\" >&2\nexit 1\n")
        (stubs / tool).chmod(0o755)
    playbook = tmp_path / "pack.yml"
    playbook.write_text(PLAYBOOK)
    src = tmp_path / "src"
    (src / "b" / "instance").mkdir(parents=True)
    (src / "a.py").write_text("a")
    (src / "b" / "z.py").write_text("z")
    (src / "b" / "instance" / "db.sqlite").write_text("data")
    (src / "c.sh").write_text("c")
    (src / "c.sh").chmod(0o4755)
    (src / ".git").mkdir()
    (src / ".git" / "config").write_text("[core]")
    (src / "shadow").symlink_to("/etc/shadow")
    path = f"{stubs}{os.pathsep}{os.environ['PATH']}"
    old_path = os.environ["PATH"]
    os.environ["PATH"] = path
    try:
        first = pack(playbook, tmp_path / "cache", src, tmp_path / "first.report")
        os.utime(src / "a.py", (1, 1))
        second = pack(playbook, tmp_path / "cache", src, tmp_path / "second.report")
    finally:
        os.environ["PATH"] = old_path
    assert first == second
    with tarfile.open(first[0]) as archive:
        found = archive.getmembers()
    assert [member.name for member in found] == ["."] + [f"./{name}" for name in ("a.py", "b", "b/z.py", "c.sh", "shadow")]
    by_name = {member.name: member for member in found}
    assert by_name["./shadow"].issym() and by_name["./shadow"].linkname == "/etc/shadow"
    assert by_name["./c.sh"].mode == 0o755
    assert {(member.mtime, member.uid, member.gid, member.uname, member.gname) for member in found} == {(0, 0, 0, "", "")}


def test_the_cache_folder_may_start_with_a_tilde(tmp_path):
    # app_controller_cache_dir's default is ~/.cache/pydeploy/<app>.
    playbook = tmp_path / "pack.yml"
    playbook.write_text(PLAYBOOK)
    (tmp_path / "cache").mkdir()
    src = tmp_path / "src"
    src.mkdir()
    (src / "marker.txt").write_text("home")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), HOME=str(tmp_path))
    cmd = ["ansible-playbook", "-i", "localhost,", str(playbook), "-e", f"app_src={src}",
           "-e", "app_controller_cache_dir=~/cache", "-e", f"report={tmp_path / 'report'}"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    artifact, _ = (tmp_path / "report").read_text().split()
    assert pathlib.Path(artifact).parent == tmp_path / "cache"


def test_a_source_folder_given_as_a_link_is_packed_as_the_folder(tmp_path):
    # app_src may name a link to the folder (~/app -> /data/app): its
    # content is packed, with a folder at the top, not a link.
    playbook = tmp_path / "pack.yml"
    playbook.write_text(PLAYBOOK)
    real = tmp_path / "real"
    real.mkdir()
    (real / "marker.txt").write_text("through a link")
    link = tmp_path / "app"
    link.symlink_to(real)
    artifact, _ = pack(playbook, tmp_path / "cache", link, tmp_path / "report")
    with tarfile.open(artifact) as archive:
        top = archive.getmember(".")
        assert top.isdir(), top.type
        assert archive.extractfile("./marker.txt").read() == b"through a link"


def load_pack_source():
    import importlib.util

    spec = importlib.util.spec_from_file_location("pack_source_action", ROOT / "plugins" / "action" / "pack_source.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_file_another_run_renames_while_old_ones_are_removed_is_passed_over(tmp_path, monkeypatch):
    # Side by side, a run lists the cache while another run renames its .part
    # file to its archive, or removes the same old file: the entry is gone by
    # the time it is looked at, and that is no error (CI once failed here).
    pack_source = load_pack_source()
    two_days_ago = time.time() - 2 * 86400
    old = tmp_path / "dir-0123.tar.gz"
    old.write_text("old")
    os.utime(old, (two_days_ago, two_days_ago))
    renamed = tmp_path / "dir-x8cxt22v.tar.gz.part"
    renamed.write_text("another run's, being renamed")
    removed_by_another = tmp_path / "git-4567.tar.gz"
    removed_by_another.write_text("old too")
    os.utime(removed_by_another, (two_days_ago, two_days_ago))
    real_scandir = os.scandir
    acted = []

    def scandir_then_the_others_act(path):
        # The listing remove_old makes (only that one: os is everyone's, and
        # pathlib lists folders with scandir too on Python 3.13).
        entries = list(real_scandir(path))
        if str(path) == str(tmp_path) and not acted:
            acted.append(True)
            renamed.rename(tmp_path / "dir-cdef.tar.gz")
            removed_by_another.unlink()
        return iter(entries)

    monkeypatch.setattr(pack_source.os, "scandir", scandir_then_the_others_act)
    assert pack_source.remove_old(str(tmp_path), time.time()) == ["dir-0123.tar.gz"]
    monkeypatch.undo()
    assert acted == [True]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dir-cdef.tar.gz"]
