"""Apache's own guarantees, and the release lifecycle through it, on both
hosts of the scenario (apache + mod_wsgi, apache + gunicorn), in file order;
the switch to v2 runs in maintenance.

Each playbook run covers both hosts at once, with a request stream through
Apache on each: module-scoped fixtures run them once and record each host's
state before and after, the tests then check each host (testinfra runs
every test for both, one host after the other: the hosts' state when a test
runs may be a later step's).
"""

import json
import re

import pytest
from conftest import APP, changed_count, changed_tasks, hosts_named, make_version, name_of, report_stream, retried, run_playbook, run_watched

HOSTS = ("pydeploy-apache-wsgi", "pydeploy-apache-gunicorn")


def all_hosts():
    return hosts_named(HOSTS)


def served_version(host):
    return host.check_output("curl -sk --max-time 10 https://localhost/whoami | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"version\"])'")


def current_release(host):
    return host.file(f"/srv/{APP}/current").linked_to.rsplit("/", 1)[-1]


def wsgi_daemons(host):
    """PIDs of the app's mod_wsgi daemon processes (none under Gunicorn)."""
    return set(host.run(f"pgrep -u {APP} -f '^\\(wsgi:{APP}\\)'").stdout.split())


def apache_master(host):
    return host.check_output("cat /run/apache2/apache2.pid")


def state(host):
    """(Apache's master, the app's mod_wsgi daemons, the current release, the version served)."""
    return apache_master(host), wsgi_daemons(host), current_release(host), served_version(host)


def streamed(playbook, *args):
    """Runs a playbook against both hosts with a request stream through Apache
    on each; returns (exit code, output, {host: (answers, state before, state after)})."""
    return run_watched(HOSTS, state, playbook, *args)


def report(capsys, what, host, answers, expected):
    return report_stream(capsys, f"{what} on {name_of(host)}", answers, expected)


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    base = tmp_path_factory.mktemp("versions")
    return {"v2": make_version(base, "2.0.0"), "v3": make_version(base, "3.0.0", broken=True)}


# Both hosts in one batch (pydeploy_serial rolls one host at a time by
# default): each is a stack of its own, and each must refuse v3 itself.
BOTH = ("-e", "pydeploy_serial=100%")


def from_outside(host):
    """The status a client from the host's global address gets (not loopback: no deploy, no health check)."""
    address = host.check_output("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1")
    return host.check_output(f"curl -sk --max-time 10 -o /dev/null -w '%{{http_code}}' --resolve localhost:443:{address} https://localhost/")


# What a client from outside got just before and just after the switch to v2,
# which runs in maintenance (playbooks/maintenance.yml), and once out of it, by host.
OUTSIDE = {}


@pytest.fixture(scope="module")
def switch_to_v2(versions):
    # In maintenance: the deploy goes through (its health checks come from
    # loopback), the stream (from loopback too) sees v1 then v2, and clients
    # from outside get 503 throughout.
    rc, out = run_playbook("maintenance.yml", "-e", "pydeploy_maintenance=on")
    assert rc == 0, out[-3000:]
    try:
        OUTSIDE.update({name: [from_outside(host)] for name, host in all_hosts().items()})
        switched = streamed("deploy.yml", *BOTH, "-e", f"app_src={versions['v2']}")
        for name, host in all_hosts().items():
            OUTSIDE[name].append(from_outside(host))
    finally:
        rc, out = run_playbook("maintenance.yml", "-e", "pydeploy_maintenance=off")
        assert rc == 0, out[-3000:]
    for name, host in all_hosts().items():
        OUTSIDE[name].append(from_outside(host))
    return switched


@pytest.fixture(scope="module")
def broken_v3(switch_to_v2, versions):
    return streamed("deploy.yml", *BOTH, "-e", f"app_src={versions['v3']}")


@pytest.fixture(scope="module")
def rollback(broken_v3):
    return streamed("rollback.yml", *BOTH)


def test_configtest_failure_leaves_apache_and_its_files_as_they_were():
    # A user mod_wsgi does not know passes the role's checks and fails
    # apachectl configtest: the files are put back, Apache is not reloaded.
    host = all_hosts()["pydeploy-apache-wsgi"]
    site = f"/etc/apache2/sites-available/{APP}.conf"
    before, master = host.file(site).content_string, apache_master(host)
    rc, out = run_playbook("site.yml", "--limit", name_of(host), "--tags", "apache", "-e", "apache_wsgi_user=nosuchuser")
    assert rc != 0
    assert f"The Apache configuration of {APP} was not applied: apachectl configtest said:" in out, out[-3000:]
    assert "nosuchuser" in out
    assert host.file(site).content_string == before
    assert host.check_output("ls /etc/apache2/sites-available /etc/apache2/conf-available | grep -c '~$' || true") == "0"
    assert host.run("apachectl configtest").rc == 0
    assert apache_master(host) == master
    assert host.check_output("curl -sk -o /dev/null -w '%{http_code}' https://localhost/health") == "200"


def test_a_snippet_configtest_refuses_is_put_back_while_both_sites_serve(capsys):
    # apache_snippets that break none of the role's guarantees, so its
    # checks pass, but that apachectl configtest refuses (a directive of a
    # module not enabled): the files are put back before Apache reloads, and
    # a request stream through Apache on each host meanwhile sees every answer.
    site = f"/etc/apache2/sites-available/{APP}.conf"
    snippets = {"apache_snippets": {"server": "Header always set X-Snippet-Probe yes", "locations": {"/": "CacheEnable disk"}}}
    rc, out, watched = run_watched(HOSTS, lambda one: one.file(site).content_string, "site.yml", "--tags", "apache", "-e", json.dumps(snippets))
    assert rc != 0, out[-3000:]
    flat = " ".join(out.split())
    assert f"The Apache configuration of {APP} was not applied: apachectl configtest said:" in flat, out[-3000:]
    assert "Invalid command 'CacheEnable'" in flat, out[-3000:]
    for name, (answers, before, after) in watched.items():
        assert after == before and "X-Snippet-Probe" not in after, name
        failed = [answer for answer in answers if not answer.endswith(" 200")]
        with capsys.disabled():
            print(f"\n  a snippet configtest refuses, on {name}: {len(answers)} requests, {len(failed)} failed, {retried(answers)} sent again after a GOAWAY")
        assert answers and not failed, (name, failed[:5])
    for host in all_hosts().values():
        assert host.run("apachectl configtest").rc == 0
        assert host.check_output("curl -sk -o /dev/null -w '%{http_code}' https://localhost/health") == "200"


def test_change_that_breaks_the_site_through_apache_is_put_back():
    # Passes configtest, but the app no longer answers through Apache: the
    # files are put back, Apache reloads with them, the play fails.
    host = all_hosts()["pydeploy-apache-gunicorn"]
    site = f"/etc/apache2/sites-available/{APP}.conf"
    before = host.file(site).content_string
    rc, out = run_playbook("site.yml", "--limit", name_of(host), "--tags", "apache", "-e", f"apache_upstream_socket=/run/{APP}/nobody-listens.sock")
    assert rc != 0, out[-3000:]
    flat = " ".join(out.split())
    assert "the site failed its health check through Apache (GET /health: answered HTTP 5" in flat, out[-3000:]
    assert "reloaded with them: the site answers again" in flat, out[-3000:]
    assert host.file(site).content_string == before
    host.check_output("systemctl restart apache2")
    assert host.check_output("curl -sk -o /dev/null -w '%{http_code}' https://localhost/health") == "200"


def test_a_folder_made_served_gives_what_it_holds_to_the_front_end_following_no_link():
    # uploads as it was before it was served (the app's group), holding what
    # the app wrote then: a file, a folder with a file, and a link it planted
    # to a file of root's. Served again (the inventory's value): everything
    # in it is the front end's group, Apache serves the older file, and the
    # link's target is untouched.
    host = all_hosts()["pydeploy-apache-gunicorn"]
    folder = f"/srv/{APP}/shared/uploads"
    rc, out = run_playbook("site.yml", "--limit", name_of(host), "--tags", "app_dirs", "-e", '{"app_shared_dirs": [{"path": "uploads"}]}')
    assert rc == 0, out[-3000:]
    assert (host.file(folder).group, host.file(folder).mode) == (APP, 0o750)
    host.check_output(
        f"setpriv --reuid={APP} --regid={APP} --clear-groups -- sh -c 'umask 027; echo older > {folder}/older.txt; "
        f"mkdir {folder}/sub && echo deeper > {folder}/sub/deeper.txt; ln -s /etc/hostname {folder}/hostname'"
    )
    hostname = host.file("/etc/hostname")
    before = (hostname.user, hostname.group, hostname.mode)
    try:
        rc, out = run_playbook("site.yml", "--limit", name_of(host), "--tags", "app_dirs")
        assert rc == 0, out[-3000:]
        assert "Give what a changed shared folder holds the folder's group" in out
        assert (host.file(folder).group, host.file(folder).mode) == ("www-data", 0o2750)
        for path in ("older.txt", "sub", "sub/deeper.txt"):
            assert host.file(f"{folder}/{path}").group == "www-data", path
        # The link itself changed group (lstat), not the file it names.
        assert host.check_output(f"stat -c %G {folder}/hostname") == "www-data"
        assert (hostname.user, hostname.group, hostname.mode) == before == ("root", "root", 0o644)
        assert host.check_output("curl -sk https://localhost/uploads/older.txt") == "older"
        assert host.check_output("curl -sk https://localhost/uploads/sub/deeper.txt") == "deeper"
    finally:
        host.run(f"rm -rf {folder}/older.txt {folder}/sub {folder}/hostname")


def test_mod_wsgi_refuses_a_virtualenv_python_it_cannot_run():
    host = all_hosts()["pydeploy-apache-wsgi"]
    # A stand-in interpreter of another Python version.
    host.check_output("printf '#!/bin/sh\\necho 3.99\\n' > /usr/local/bin/python3.99 && chmod 755 /usr/local/bin/python3.99")
    try:
        rc, out = run_playbook("site.yml", "--limit", name_of(host), "-e", "app_python=/usr/local/bin/python3.99")
    finally:
        host.run("rm -f /usr/local/bin/python3.99")
    assert rc != 0
    assert "built for the system's Python 3.11; app_python /usr/local/bin/python3.99 is Python 3.99" in out, out[-3000:]
    assert changed_count(out) == 0


def test_release_switch_through_apache_drops_no_request(host, switch_to_v2, capsys):
    rc, out, per_host = switch_to_v2
    assert rc == 0, out[-3000:]
    answers, (master_before, daemons_before, release_before, _), (master_after, daemons_after, release_after, served) = per_host[name_of(host)]
    failed, seen = report(capsys, "switch v1 -> v2", host, answers, ("1.0.0", "2.0.0"))
    assert len(answers) >= 20
    assert failed == []
    assert seen == ["1.0.0", "2.0.0"]
    # Once the play is over, only the new release answers.
    assert served == "2.0.0"
    assert '"version":"1.0.0"' not in answers[-1]
    assert release_after != release_before
    # Apache itself was not restarted; under mod_wsgi only the app's daemon
    # processes were (USR1), under Gunicorn they were never there.
    assert master_after == master_before
    if name_of(host) == "pydeploy-apache-wsgi":
        assert daemons_before and daemons_after and not daemons_before & daemons_after
    else:
        assert not daemons_before and not daemons_after


def test_a_deploy_in_maintenance_goes_through_while_clients_from_outside_get_503(host, switch_to_v2):
    # (Taken in the fixture: a later fixture, for both hosts, may have run since.)
    rc, out, per_host = switch_to_v2
    assert rc == 0, out[-3000:]
    _, _, (_, _, _, served) = per_host[name_of(host)]
    assert served == "2.0.0"
    # Before the deploy, after it, and once out of maintenance.
    assert OUTSIDE[name_of(host)] == ["503", "503", "200"]


def test_broken_release_is_refused_while_apache_serves_the_old_one(host, broken_v3, capsys):
    rc, out, per_host = broken_v3
    assert rc != 0
    # Refused on this host, naming the release.
    flat = re.sub(r"\s+", " ", out)
    assert re.search(rf"fatal: \[{name_of(host)}\]: FAILED! => .{{0,200}}Release v3\S+ failed its trial before the switch", flat), out[-3000:]
    assert "module_that_does_not_exist" in out
    answers, (_, daemons_before, release_before, _), (_, daemons_after, release_after, served) = per_host[name_of(host)]
    failed, _ = report(capsys, "broken v3 refused", host, answers, ("2.0.0",))
    assert len(answers) >= 10
    assert failed == []
    assert release_after == release_before
    assert daemons_after == daemons_before
    assert served == "2.0.0"


def test_rollback_through_apache_drops_no_request(host, rollback, capsys):
    rc, out, per_host = rollback
    assert rc == 0, out[-3000:]
    answers, _, (_, _, _, served) = per_host[name_of(host)]
    failed, seen = report(capsys, "rollback v2 -> v1", host, answers, ("2.0.0", "1.0.0"))
    assert failed == []
    assert "1.0.0" in seen
    assert served == "1.0.0"


def test_check_mode_on_the_converged_hosts_changes_nothing():
    # In place of the shared check-mode test: on hosts that went through the
    # deploys and the rollback above, site.yml still finds nothing to do.
    # Every task, not the record of the last complete run: what they would do.
    rc, out = run_playbook("site.yml", "--check", "--diff", "-e", "pydeploy_skip_unchanged=false")
    assert rc == 0, out[-3000:]
    assert changed_count(out) == 0, changed_tasks(out) or out[-3000:]
    assert not re.search(r"^[-+]{3} (before|after)", out, re.M), out[-3000:]


def test_apache_runs_mpm_event_with_python_only_in_the_app_daemons(host):
    assert "event" in host.check_output("apachectl -V | grep -i 'Server MPM'").lower()
    if name_of(host) == "pydeploy-apache-wsgi":
        site = host.file(f"/etc/apache2/sites-enabled/{APP}.conf").content_string
        assert re.search(rf"WSGIDaemonProcess {APP} user={APP} group={APP} processes=2 threads=4 ", site)
        assert f"python-home=/srv/{APP}/current/venv" in site
        assert "application-group=%{GLOBAL}" in site
        assert "WSGIRestrictEmbedded On" in host.file("/etc/apache2/conf-enabled/pydeploy.conf").content_string
        uid = host.user(APP).uid
        for pid in wsgi_daemons(host):
            assert re.search(rf"^Uid:\s+{uid}\s", host.file(f"/proc/{pid}/status").content_string, re.M)
