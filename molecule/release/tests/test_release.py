"""The release lifecycle, step by step, in file order (each test builds on the last).

v1 comes from converge (site.yml with examples/flask_app). Every other
version is made here, on the controller, from the same example app.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest
from conftest import APP, EXAMPLE, RequestStream, changed_count, make_version, retried, run_playbook

SECRET = "release-scenario-secret-3f9a1c77d2e04b6b9d0e5a8c1f2b3c4d"
DB_PASSWORD = "db-password-9c2e7b1d5f"
RELEASES = f"/srv/{APP}/releases"


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    base = tmp_path_factory.mktemp("versions")
    made = {"v2": make_version(base, "2.0.0"), "v3": make_version(base, "3.0.0", broken=True)}
    # v4: a git repository with a tag, made here.
    repo = make_version(base, "4.0.0")
    git = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "v4"], check=True)
    subprocess.run([*git, "tag", "v4.0.0"], check=True)
    made["v4"] = repo
    # v5: a wheel of the app, built with its pyproject.toml.
    wheel_src = make_version(base, "5.0.0")
    wheels = base / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(wheel_src)], check=True)
    made["v5"] = next(wheels.glob("hello_pydeploy-5.0.0-*.whl"))
    # v6, v7: plain versions for the deploy hooks' failures.
    made["v6"] = make_version(base, "6.0.0")
    made["v7"] = make_version(base, "7.0.0")
    return made


def served_version(http):
    return http.json("https://localhost/whoami")["version"]


def current_release(host):
    return host.file(f"/srv/{APP}/current").linked_to.rsplit("/", 1)[-1]


def deploy(*args):
    return run_playbook("deploy.yml", *args)


def test_v1_from_converge_serves(http, host):
    assert served_version(http) == "1.0.0"
    assert host.file(f"/srv/{APP}/current").is_symlink


def test_role_variables_set_in_the_inventory_are_used(host, http):
    # group_vars set gunicorn_socket_path and nginx_site_name, which the
    # playbooks also derive from pydeploy_app_name: the inventory wins, and
    # the front end and the health gate follow the app server's socket.
    sock = host.file("/run/hello/release.sock")
    assert sock.is_socket
    assert not host.file("/run/hello/gunicorn.sock").exists
    assert host.check_output("systemctl show -p Listen --value hello.socket").startswith("/run/hello/release.sock")
    site = host.file("/etc/nginx/sites-enabled/hello-release.conf")
    assert site.exists
    assert "server unix:/run/hello/release.sock" in site.content_string
    assert not host.file("/etc/nginx/sites-enabled/hello.conf").exists
    # The app answers on that socket, and through Nginx.
    direct = host.check_output("curl -s --max-time 10 --unix-socket /run/hello/release.sock http://localhost/health")
    assert direct.strip() == '{"status":"healthy"}'
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_v2_deploys_and_serves_without_a_failed_request(http, host, versions, capsys):
    v1 = current_release(host)
    with RequestStream(host) as stream:
        rc, out = deploy("-e", f"app_src={versions['v2']}")
    assert rc == 0, out[-3000:]
    assert served_version(http) == "2.0.0"
    answers = stream.answers()
    failed = [line for line in answers if not line.endswith(" 200")]
    versions_seen = [v for v in ("1.0.0", "2.0.0") if any(f'"version":"{v}"' in line for line in answers)]
    with capsys.disabled():
        print(f"\n  switch v1 -> v2: {len(answers)} requests, {len(failed)} failed, {retried(answers)} sent again after a GOAWAY, versions seen: {versions_seen}")
    # Requests went on through the trial, the switch and the restart.
    assert len(answers) >= 20
    assert failed == []
    assert versions_seen == ["1.0.0", "2.0.0"]
    v2 = current_release(host)
    assert v2 != v1
    assert host.file(f"/srv/{APP}/previous").linked_to == f"{RELEASES}/{v1}"
    # Its own venv, code owned by root, shared folder linked in.
    assert host.file(f"{RELEASES}/{v2}/venv/bin/gunicorn").exists
    assert host.file(f"{RELEASES}/{v2}/wsgi.py").user == "root"
    assert host.file(f"{RELEASES}/{v2}/data").linked_to == f"/srv/{APP}/shared/data"


def test_migration_ran_once_per_release(host):
    log = host.file(f"/srv/{APP}/shared/data/migrations.log").content_string.split()
    releases = host.check_output(f"ls {RELEASES}").split()
    assert sorted(log) == sorted(releases), (log, releases)


def test_deploy_hooks_ran_at_their_points_as_the_app_user(http, host):
    # app_hooks of the inventory: the build hook's file is in the release,
    # root's like the rest of the code, and served by the front end; the
    # switch hooks ran once each, before and after v2's switch, as the app.
    v2 = current_release(host)
    built = f"{RELEASES}/{v2}/hello/static/built/release.txt"
    assert host.file(built).content_string == f"built {v2} by {APP}\n"
    assert (host.file(built).user, host.file(built).mode & 0o022) == ("root", 0)
    assert host.run(f"runuser -u {APP} -- sh -c 'echo x >> {built}'").rc != 0
    status, _, body = http.get("https://localhost/static/built/release.txt")
    assert (status, body) == (200, f"built {v2} by {APP}\n")
    log = host.file(f"/srv/{APP}/shared/data/hooks.log").content_string.splitlines()
    assert log[-2:] == [f"before {v2} {APP}", f"after {v2} {APP}"], log


def test_broken_v3_is_refused_while_v2_keeps_serving(http, host, versions, capsys):
    v2 = current_release(host)
    with RequestStream(host) as stream:
        rc, out = deploy("-e", f"app_src={versions['v3']}")
    assert rc != 0, out[-3000:]
    failed = re.search(r"Release (\S+) failed its trial", out)
    assert failed, out[-3000:]
    assert "module_that_does_not_exist" in out
    assert current_release(host) == v2
    assert served_version(http) == "2.0.0"
    # What the trial printed is kept for root only (the app's output).
    note = host.file(f"{RELEASES}/{failed.group(1)}/.pydeploy/failed")
    assert (note.exists, note.user, note.mode) == (True, "root", 0o600)
    answers = stream.answers()
    bad = [line for line in answers if not line.endswith(" 200") or '"version":"2.0.0"' not in line]
    with capsys.disabled():
        print(f"\n  broken v3 refused: {len(answers)} requests, {len(bad)} failed or not v2, {retried(answers)} sent again after a GOAWAY")
    assert len(answers) >= 20
    assert bad == []


def test_rollback_returns_to_v1(http, host):
    rc, out = run_playbook("rollback.yml")
    assert rc == 0, out[-3000:]
    assert served_version(http) == "1.0.0"


def test_deploying_the_served_version_again_changes_nothing(host):
    before = current_release(host)
    rc, out = deploy("-e", f"app_src={EXAMPLE}")
    assert rc == 0, out[-3000:]
    assert changed_count(out) == 0, out[-3000:]
    assert current_release(host) == before


def test_git_source_deploys_a_tag(http, host, versions):
    rc, out = deploy("-e", "app_source=git", "-e", f"app_git_repo={versions['v4']}", "-e", "app_git_version=v4.0.0")
    assert rc == 0, out[-3000:]
    assert served_version(http) == "4.0.0"
    assert current_release(host).startswith("v4.0.0-")
    info = json.loads(host.file(f"/srv/{APP}/current/.pydeploy/release.json").content_string)
    assert info["source"].startswith("git ")


def test_wheel_source_deploys(http, host, versions):
    rc, out = deploy("-e", "app_source=package", "-e", f"app_package={versions['v5']}")
    assert rc == 0, out[-3000:]
    assert served_version(http) == "5.0.0"
    assert current_release(host).startswith("hello_pydeploy-5.0.0-")


def test_old_releases_are_pruned_failed_first(host):
    releases = host.check_output(f"ls {RELEASES}").split()
    assert len(releases) == 4, releases
    assert not any(host.file(f"{RELEASES}/{r}/.pydeploy/failed").exists for r in releases)
    for link in ("current", "previous"):
        assert host.file(f"/srv/{APP}/{link}").linked_to.rsplit("/", 1)[-1] in releases


def test_offline_mode_installs_from_a_wheelhouse(http, host, versions):
    # Built on the controller (whose Python is this host's here), for hosts
    # that reach no index; the cluster scenario builds it on the first app
    # host. A wheelhouse of days ago on the controller goes (the
    # controller's cache does not grow with every release).
    # Built by this run: the controller's cache of an earlier run (of this
    # scenario, or a host's build fetched there) holds the same release's.
    cache = pathlib.Path.home() / ".cache" / "pydeploy" / APP / "wheelhouse"
    shutil.rmtree(cache, ignore_errors=True)
    old = cache / "hello-old-release"
    old.mkdir(parents=True, exist_ok=True)
    old.with_suffix(".tar").touch()
    for path in (old, old.with_suffix(".tar")):
        os.utime(path, (time.time() - 3 * 86400,) * 2)
    rc, out = deploy("-e", f"app_src={versions['v2']}", "-e", "app_wheelhouse=true", "-e", "app_wheelhouse_builder=controller")
    assert rc == 0, out[-3000:]
    assert re.search(r"TASK \[pydeploy\.wsgi\.app : Build the wheelhouse on the controller\] \**\nchanged: \[pydeploy-release -> localhost\]", out), out[-3000:]
    assert not old.exists() and not old.with_suffix(".tar").exists()
    assert served_version(http) == "2.0.0"
    wheels = host.check_output(f"ls /srv/{APP}/current/.pydeploy/wheels")
    assert "flask-3.1.3-py3-none-any.whl" in wheels.lower()
    assert "gunicorn-" in wheels
    info = json.loads(host.file(f"/srv/{APP}/current/.pydeploy/release.json").content_string)
    assert info["build_inputs"]["wheelhouse"] is True
    assert len(host.check_output(f"ls {RELEASES}").split()) == 4


def test_wheelhouse_for_another_python_is_refused_before_anything_changes(http, host, versions):
    # A host whose Python is not the controller's: wheels built on the
    # controller (app_wheelhouse_builder: controller, for hosts that reach
    # no index) may not install there, so the deploy stops first.
    other = "/usr/local/bin/python-of-another-kind"
    host.run(f"printf '#!/bin/sh\\necho cpython-39 linux-aarch64\\n' > {other} && chmod 0755 {other}")
    releases = host.check_output(f"ls {RELEASES}").split()
    before = current_release(host)
    rc, out = deploy("-e", f"app_src={versions['v2']}", "-e", "app_wheelhouse=true", "-e", "app_wheelhouse_builder=controller",
                     "-e", f"app_python={other}")
    host.run(f"rm -f {other}")
    assert rc != 0
    assert re.search(r"app_wheelhouse_builder: the controller's Python \(cpython-3\d+ linux-\S+\) is not this host's\s+" + other + r" \(cpython-39 linux-aarch64\)", out), out[-3000:]
    assert current_release(host) == before
    assert host.check_output(f"ls {RELEASES}").split() == releases
    assert served_version(http) == "2.0.0"


def test_rollback_to_a_named_release(http, host):
    v4 = next(r for r in host.check_output(f"ls {RELEASES}").split() if r.startswith("v4.0.0-"))
    rc, out = run_playbook("rollback.yml", "-e", "app_rollback_to=no-such-release")
    assert rc != 0
    assert "app_rollback_to: release no-such-release is not a complete release" in out
    assert served_version(http) == "2.0.0"
    rc, out = run_playbook("rollback.yml", "-e", f"app_rollback_to={v4}")
    assert rc == 0, out[-3000:]
    assert served_version(http) == "4.0.0"
    assert current_release(host) == v4


def streamed_deploy(host, *args):
    """deploy.yml under a request stream; (exit code, output, the answers that failed, the versions seen)."""
    with RequestStream(host) as stream:
        rc, out = deploy(*args)
    answers = stream.answers()
    failed = [line for line in answers if not line.endswith(" 200")]
    seen = sorted({match for line in answers for match in re.findall(r'"version":"([0-9.]+)"', line)})
    return rc, " ".join(out.split()), answers, failed, seen


def test_a_failing_build_hook_fails_the_build_while_the_site_serves(http, host, versions, capsys):
    before, served = current_release(host), served_version(http)
    hooks = {"app_hooks": {"build": ["echo assets built", "echo the bundler broke >&2; exit 3", "touch never-run"]}}
    rc, out, answers, failed, seen = streamed_deploy(host, "-e", f"app_src={versions['v6']}", "-e", json.dumps(hooks))
    with capsys.disabled():
        print(f"\n  failing build hook: {len(answers)} requests, {len(failed)} failed, {retried(answers)} sent again after a GOAWAY, versions seen: {seen}")
    assert rc != 0
    assert "could not be built (Run the build hooks as the app user)" in out, out[-3000:]
    assert "the bundler broke" in out and "app_hooks.build[1] failed with exit status 3" in out, out[-3000:]
    assert (current_release(host), served_version(http)) == (before, served)
    # Left incomplete (the next build starts it again), the command after the failing one never run.
    for release in [r for r in host.check_output(f"ls {RELEASES}").split() if r.startswith("v6.0.0-")]:
        assert not host.file(f"{RELEASES}/{release}/.pydeploy/complete").exists
        assert not host.file(f"{RELEASES}/{release}/never-run").exists
    assert answers and not failed and seen == [served]


def test_each_release_records_its_audit(host):
    """app_audit report (the default): the known vulnerability is reported, the release built and served."""
    record = json.loads(host.file(f"{RELEASES}/{current_release(host)}/.pydeploy/release.json").content_string)
    audit = record["audit"]
    assert (audit["service"], audit["error"], audit["tool"]) == ("osv", "", "pip-audit==2.10.1")
    assert [(one["name"], [v["id"] for v in one["vulns"]]) for one in audit["vulnerable"]] == [("itsdangerous", ["PYSEC-TEST-0001"])]
    # Every installed dependency was asked about, and the tool is root's.
    asked = set(host.file("/var/lib/osv-stand-in/queries").content_string.split())
    assert {"flask", "werkzeug", "itsdangerous", "gunicorn"} <= asked, asked
    tool = host.file("/opt/pydeploy/pip-audit/bin/pip-audit")
    assert (tool.user, tool.mode & 0o022) == ("root", 0)


def test_a_release_with_a_known_vulnerability_is_refused_when_asked(http, host, versions, capsys):
    before, served = current_release(host), served_version(http)
    rc, out, answers, failed, seen = streamed_deploy(host, "-e", f"app_src={versions['v6']}", "-e", "app_audit=refuse")
    with capsys.disabled():
        print(f"\n  refused by its audit: {len(answers)} requests, {len(failed)} failed, {retried(answers)} sent again after a GOAWAY, versions seen: {seen}")
    assert rc != 0
    assert "could not be built (Refuse a release with known vulnerabilities (app_audit refuse))" in out, out[-3000:]
    assert "app_audit is refuse: Release v6.0.0-" in out, out[-3000:]
    assert "itsdangerous" in out and "PYSEC-TEST-0001 CVE-0000-0001, fixed in 99.0" in out, out[-3000:]
    assert (current_release(host), served_version(http)) == (before, served)
    assert answers and not failed and seen == [served]
    # Accepted after review: the audit lets the build through (a before_switch
    # hook then stops the switch: v6 stays unserved for the tests below).
    extra = {"app_audit": "refuse", "app_audit_ignore": ["PYSEC-TEST-0001"], "app_hooks": {"before_switch": ["exit 5"]}}
    rc, out = deploy("-e", f"app_src={versions['v6']}", "-e", json.dumps(extra))
    said = " ".join(out.split())
    assert rc != 0 and "app_hooks.before_switch[0] failed with exit status 5" in said, said[-3000:]
    built = [r for r in host.check_output(f"ls {RELEASES}").split()
             if r.startswith("v6.0.0-") and host.file(f"{RELEASES}/{r}/.pydeploy/complete").exists]
    assert len(built) == 1, built
    audit = json.loads(host.file(f"{RELEASES}/{built[0]}/.pydeploy/release.json").content_string)["audit"]
    assert audit["vulnerable"] == [] and audit["ignored"] == ["PYSEC-TEST-0001"]
    assert (current_release(host), served_version(http)) == (before, served)


def test_a_failing_before_switch_hook_switches_nothing(http, host, versions, capsys):
    before, served = current_release(host), served_version(http)
    hooks = {"app_hooks": {"before_switch": ["exit 4"], "after_switch": ["touch data/after-ran"]}}
    rc, out, answers, failed, seen = streamed_deploy(host, "-e", f"app_src={versions['v6']}", "-e", json.dumps(hooks))
    with capsys.disabled():
        print(f"\n  failing before_switch hook: {len(answers)} requests, {len(failed)} failed, {retried(answers)} sent again after a GOAWAY, versions seen: {seen}")
    assert rc != 0
    assert "The before_switch hooks (app_hooks.before_switch) failed in release v6.0.0-" in out, out[-3000:]
    assert "; nothing was switched. Their last log lines:" in out and "app_hooks.before_switch[0] failed with exit status 4" in out
    assert (current_release(host), served_version(http)) == (before, served)
    assert not host.file(f"/srv/{APP}/shared/data/after-ran").exists
    assert answers and not failed and seen == [served]


def test_a_failing_after_switch_hook_is_reported_and_the_release_serves(http, host, versions, capsys):
    served = served_version(http)
    hooks = {"app_hooks": {"after_switch": ["echo purging the CDN", "exit 5"]}}
    rc, out, answers, failed, seen = streamed_deploy(host, "-e", f"app_src={versions['v6']}", "-e", json.dumps(hooks))
    with capsys.disabled():
        print(f"\n  failing after_switch hook, reported: {len(answers)} requests, {len(failed)} failed, {retried(answers)} sent again after a GOAWAY, versions seen: {seen}")
    assert rc == 0, out[-3000:]
    assert "The after_switch hooks (app_hooks.after_switch) failed in release v6.0.0-" in out, out[-3000:]
    assert "keeps serving (app_hooks_after_switch_failure: report)" in out and "...ignoring" in out
    assert "purging the CDN" in out
    assert served_version(http) == "6.0.0" and current_release(host).startswith("v6.0.0-")
    assert answers and not failed and seen == sorted({served, "6.0.0"})


def test_a_failing_after_switch_hook_rolls_back_when_asked(http, host, versions, capsys):
    v6 = current_release(host)
    hooks = {"app_hooks": {"after_switch": ["exit 6"]}, "app_hooks_after_switch_failure": "rollback"}
    rc, out, answers, failed, seen = streamed_deploy(host, "-e", f"app_src={versions['v7']}", "-e", json.dumps(hooks))
    with capsys.disabled():
        print(f"\n  failing after_switch hook, rolled back: {len(answers)} requests, {len(failed)} failed, {retried(answers)} sent again after a GOAWAY, versions seen: {seen}")
    assert rc != 0
    assert "The after_switch hooks (app_hooks.after_switch) failed in release v7.0.0-" in out, out[-3000:]
    assert "the previous release is put back (app_hooks_after_switch_failure: rollback)" in out
    assert f"current points back at {v6}, which answers again" in out, out[-3000:]
    assert (current_release(host), served_version(http)) == (v6, "6.0.0")
    v7 = next(r for r in host.check_output(f"ls {RELEASES}").split() if r.startswith("v7.0.0-"))
    assert host.file(f"{RELEASES}/{v7}/.pydeploy/failed").content_string == "its after_switch hooks failed\n"
    assert answers and not failed and set(seen) <= {"6.0.0", "7.0.0"} and "6.0.0" in seen


def test_waived_preflight_check_passes_with_a_warning():
    # The failing preflight checks run on the controller (tests/test_bad_input.py);
    # a waived one lets a whole deploy go through, in check mode here.
    rc, out = deploy("--check", "-e", '{"app_env": {"DEBUG": "1"}, "app_preflight_waivers": ["debug_off"]}')
    assert rc == 0, out[-2000:]
    assert "[WARNING]: preflight check debug_off is waived by app_preflight_waivers (it fails)" in out


def test_no_secret_reaches_a_verbose_log(http, host):
    # A full deploy with -vvv: the inventory's version (v1) is switched back
    # to behind a trial, and a rotated secret rewrites the environment file.
    new_secret = "rotated-secret-7d41c0a9e85b4f3aa1b2c3d4e5f60718"
    rc, out = deploy("-vvv", "-e", f"app_secret_key={new_secret}")
    assert rc == 0, out[-3000:]
    assert len(out) > 10000
    # The environment file was staged, then put in place at the switch.
    assert "TASK [pydeploy.wsgi.app : Stage the new environment file]" in out
    assert "TASK [pydeploy.wsgi.app : Put the new environment file in place]" in out
    for secret in (SECRET, new_secret, DB_PASSWORD):
        assert secret not in out
    assert served_version(http) == "1.0.0"
    # The running app got the rotated secret: its environment file has it.
    assert host.run(f"grep -qF {new_secret} /etc/{APP}/env").rc == 0
