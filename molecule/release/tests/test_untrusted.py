"""The app's code and its dependencies are untrusted (issue 25), met as an
attacker would: links out of the release in the app's folder, a .pydeploy
link in an archive, a dependency whose build script and .pth file record who
ran them, a set-user-ID file. Runs after test_release.py, on its host.
"""

import json
import re
import tarfile
import textwrap

import pytest
from conftest import APP, make_version, run_playbook

RELEASES = f"/srv/{APP}/releases"
PROBE_LOG = f"/srv/{APP}/shared/data/pth-uids.log"


def current_release(host):
    return host.file(f"/srv/{APP}/current").linked_to.rsplit("/", 1)[-1]


def served_version(host):
    return json.loads(host.check_output("curl -sk --max-time 10 https://localhost/whoami"))["version"]


def snapshot(host, paths):
    """Owner, group and mode of each path (the target, through links)."""
    return {path: host.check_output(f"stat -L -c '%U:%G %a' {path}") for path in paths}


@pytest.fixture(scope="module")
def app_uid(host):
    return int(host.check_output(f"id -u {APP}"))


def test_links_out_of_the_release_are_refused_naming_them(host, tmp_path):
    version = make_version(tmp_path, "6.0.0")
    (version / "shadow").symlink_to("/etc/shadow")
    (version / "hello" / "keys").symlink_to("/etc/ssl/pydeploy")
    (version / "walk").symlink_to("hello/../../..")
    (version / "inside").symlink_to("hello/static")
    watched = ["/etc/shadow", "/etc/ssl/pydeploy", "/etc/ssl/pydeploy/private", "/"]
    before, release = snapshot(host, watched), current_release(host)
    rc, out = run_playbook("deploy.yml", "-e", f"app_src={version}")
    assert rc != 0, out[-3000:]
    flat = " ".join(out.split())
    for line in ("shadow: a link to /etc/shadow, outside the release",
                 "hello/keys: a link to /etc/ssl/pydeploy, outside the release",
                 "walk: a link to hello/../../.., outside the release"):
        assert line in flat, out[-3000:]
    # The link inside the release is no reason to refuse it.
    assert "inside: a link" not in flat
    # Root followed none of them: the files they point at are as they were.
    assert snapshot(host, watched) == before
    assert current_release(host) == release
    assert served_version(host) == "1.0.0"


def test_a_pydeploy_link_in_an_archive_is_refused(host, tmp_path):
    # .pydeploy -> /etc/logrotate.d: root would write the trial's journal
    # lines (text the app printed) into logrotate's configuration.
    code = make_version(tmp_path, "6.1.0")
    (code / ".pydeploy").symlink_to("/etc/logrotate.d")
    archive = tmp_path / "hello-6.1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(code, arcname=".")
    listing = host.check_output("ls -la /etc/logrotate.d")
    rc, out = run_playbook("deploy.yml", "-e", "app_source=archive", "-e", f"app_archive={archive}")
    assert rc != 0, out[-3000:]
    assert ".pydeploy: the code may not hold .pydeploy, the folder of the role's own records" in " ".join(out.split()), out[-3000:]
    assert host.check_output("ls -la /etc/logrotate.d") == listing
    assert served_version(host) == "1.0.0"


def make_probe_package(directory):
    """An sdist-style dependency whose setup.py records, at build time, who
    runs it and in which sandbox (with its transient unit's file), and whose
    wheel carries a .pth file that records the uid of every Python that
    starts in the venv."""
    directory.mkdir()
    (directory / "pydeploy_probe.py").write_text(textwrap.dedent(f"""\
        import os
        try:
            with open({PROBE_LOG!r}, "a") as log:
                log.write(f"{{os.getuid()}}\\n")
        except OSError:
            pass
    """))
    (directory / "pydeploy_probe.pth").write_text("import pydeploy_probe\n")
    (directory / "setup.py").write_text(textwrap.dedent("""\
        import json, os, re
        from setuptools import setup
        from setuptools.command.build_py import build_py

        def status(name):
            with open("/proc/self/status") as handle:
                return re.search(rf"^{name}:\\s*(\\S+)", handle.read(), re.M).group(1)

        def can_write(path):
            try:
                with open(path, "w"):
                    pass
                os.unlink(path)
                return True
            except OSError:
                return False

        with open("/proc/self/cgroup") as handle:
            unit = re.search(r"/([^/]+\\.service)", handle.read()).group(1)
        with open(f"/run/systemd/transient/{unit}") as handle:
            unit_file = handle.read()
        with open("build-record.json", "w") as record:
            json.dump({
                "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
                "no_new_privs": status("NoNewPrivs"), "seccomp": status("Seccomp"), "cap_eff": status("CapEff"),
                "etc_writable": can_write("/etc/pydeploy-build-probe"),
                "usr_writable": can_write("/usr/local/pydeploy-build-probe"),
                "root_readable": os.access("/root", os.R_OK) and bool(os.listdir("/root") or True),
                "unit": unit, "unit_file": unit_file,
            }, record)

        class BuildPy(build_py):
            def run(self):
                super().run()
                self.copy_file("pydeploy_probe.pth", os.path.join(self.build_lib, "pydeploy_probe.pth"))

        setup(name="pydeploy-probe", version="1.0", py_modules=["pydeploy_probe"], cmdclass={"build_py": BuildPy})
    """))


def test_dependency_builds_run_as_the_app_user_in_the_services_sandbox(host, tmp_path, app_uid, capsys):
    version = make_version(tmp_path, "7.0.0")
    make_probe_package(version / "probe")
    requirements = version / "requirements.txt"
    requirements.write_text(requirements.read_text() + "./probe\n")
    # A set-user-ID file in the app's folder.
    (version / "hello" / "tool.sh").write_text("#!/bin/sh\nid\n")
    (version / "hello" / "tool.sh").chmod(0o4755)
    host.run(f"rm -f {PROBE_LOG}")
    rc, out = run_playbook("deploy.yml", "-e", f"app_src={version}")
    assert rc == 0, out[-3000:]
    assert served_version(host) == "7.0.0"
    release = f"{RELEASES}/{current_release(host)}"
    record = json.loads(host.file(f"{release}/probe/build-record.json").content_string)
    # The build script ran as the app user, never root, in the sandbox.
    assert (record["uid"], record["euid"], record["gid"]) == (app_uid, app_uid, int(host.check_output(f"getent group {APP} | cut -d: -f3")))
    assert record["no_new_privs"] == "1"
    assert record["seccomp"] == "2"
    assert int(record["cap_eff"], 16) == 0
    assert not record["etc_writable"] and not record["usr_writable"]
    # Its unit's sandbox rates within 1.0 of the service's
    # (systemd-analyze security --offline, both read the same way).
    host.check_output(f"cat > /tmp/{record['unit']} <<'EOF'\n{record['unit_file']}\nEOF")
    build = offline_exposure(host, f"/tmp/{record['unit']}")
    service = offline_exposure(host, f"/etc/systemd/system/{APP}.service")
    with capsys.disabled():
        print(f"\n  exposure: build unit {build}, {APP}.service {service}")
    assert build <= service + 1.0
    # Sealed: root's, read-only to the app, no set-user-ID bit left.
    tool = host.file(f"{release}/hello/tool.sh")
    assert (tool.user, tool.mode & 0o7777) == ("root", 0o755)
    found = host.check_output(
        f"find {release} -xdev \\( -not -user root -o -not -type l \\( -perm -4000 -o -perm -2000 -o -perm -0002 \\) \\) -print")
    assert found == ""
    assert host.run(f"runuser -u {APP} -- touch {release}/hello/x").rc != 0
    # The .pth file ran in the app's processes only: never as root.
    uids = set(host.file(PROBE_LOG).content_string.split())
    assert uids and "0" not in uids, uids


def offline_exposure(host, unit_file):
    out = host.run(f"systemd-analyze security --offline=true --no-pager {unit_file}").stdout
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", out)
    assert found, out[-800:]
    return float(found.group(1))


def test_a_link_in_a_shared_folder_is_not_followed_by_root(host):
    # The app owns shared/data: a link it put where a nested shared folder
    # goes leads root nowhere (root chowned its target before).
    shared = '{"app_shared_dirs": [{"path": "data"}, {"path": "data/uploads", "mode": "0700"}]}'
    host.check_output(f"runuser -u {APP} -- ln -sfn /etc/cron.d /srv/{APP}/shared/data/uploads")
    before = snapshot(host, ["/etc/cron.d"])
    try:
        rc, out = run_playbook("site.yml", "--tags", "app_dirs", "-e", shared)
        assert rc == 0, out[-3000:]
        assert snapshot(host, ["/etc/cron.d"]) == before
    finally:
        host.check_output(f"rm -f /srv/{APP}/shared/data/uploads")
    # Without the link, the app user makes the nested folder, with its mode.
    rc, out = run_playbook("site.yml", "--tags", "app_dirs", "-e", shared)
    assert rc == 0, out[-3000:]
    uploads = host.file(f"/srv/{APP}/shared/data/uploads")
    assert (uploads.is_directory, uploads.user, uploads.mode) == (True, APP, 0o700)


def test_gunicorn_check_as_the_app_user_and_static_files_follow_no_foreign_link(host, app_uid):
    # One site.yml run changes Gunicorn's configuration and the static
    # locations, one puts them back.
    # 1. The change to gunicorn.conf.py is checked with the release's venv
    # Python, which runs the probe's .pth file: it records the app user only.
    # 2. A static location over a shared folder (uploads the app writes): a
    # link the app puts there to a file the front end may read (its own log)
    # is not served; the app's own files are.
    statics = ('{"gunicorn_timeout": 31, "nginx_static_locations": [{"location": "/static/", "path": "hello/static/"},'
               ' {"location": "/files/", "path": "data/"}]}')
    data = f"/srv/{APP}/shared/data"
    host.run(f"rm -f {PROBE_LOG}")
    before = host.file(f"/etc/{APP}/gunicorn.conf.py").sha256sum
    host.check_output(f"runuser -u {APP} -- sh -c 'chmod 0755 {data} && echo mine > {data}/mine.txt && ln -sfn /var/log/nginx/error.log {data}/leak.txt'")
    try:
        rc, out = run_playbook("site.yml", "--tags", "gunicorn,nginx", "-e", statics)
        assert rc == 0, out[-3000:]
        assert host.file(f"/etc/{APP}/gunicorn.conf.py").sha256sum != before
        uids = host.file(PROBE_LOG).content_string.split()
        assert uids and set(uids) == {str(app_uid)}, uids
        fetch = "curl -sk --max-time 10 -o /dev/null -w '%{http_code}' https://localhost/files/"
        assert host.check_output(f"{fetch}mine.txt") == "200"
        assert host.check_output(f"{fetch}leak.txt") in ("403", "404")
    finally:
        host.run(f"rm -f {data}/mine.txt {data}/leak.txt && chmod 0750 {data}")
        rc, out = run_playbook("site.yml", "--tags", "gunicorn,nginx")
        assert rc == 0, out[-3000:]
    assert host.file(f"/etc/{APP}/gunicorn.conf.py").sha256sum == before
