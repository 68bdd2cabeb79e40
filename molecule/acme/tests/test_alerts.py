"""Alerts between runs (the alerts role): each kind of incident (a unit that
fails and stays failed, the site failing its health check through the front
end, a file system filling up, a pending reboot; a failed renewal in
test_host_renewal.py) gives one notice by mail and one by webhook,
with the host, the unit and the last log lines, however often it is seen,
and a recovery notice once it is over. The notices go to the CA container's
mail sink and webhook receiver (prepare.yml); the tests run the monitor's
service themselves (its timer waits an hour in this scenario)."""

import json
import time

import pytest
from conftest import hosts_named, name_of, sandbox_exposure

testinfra_hosts = ["ansible://pydeploy-acme-web", "ansible://pydeploy-acme-apache"]

MONITOR = "pydeploy-monitor-hello.service"
HOOK_PATH = "/hooks/t0ken-of-the-acme-scenario"

# Run in the CA container: every notice the sinks hold, as JSON lines.
READ_SINKS = r"""
import email, email.policy, glob, json
for path in sorted(glob.glob("/var/lib/sink/maildir/new/*") + glob.glob("/var/lib/sink/maildir/cur/*")):
    with open(path, "rb") as stream:
        message = email.message_from_binary_file(stream, policy=email.policy.default)
    print(json.dumps({"via": "mail", "host": message["X-Pydeploy-Host"], "subject": message["X-Pydeploy-Subject"],
                      "state": message["X-Pydeploy-State"], "title": str(message["Subject"]).strip(), "to": str(message["To"]),
                      "text": message.get_content()}))
for path in sorted(glob.glob("/var/lib/sink/hooks/*.json")):
    with open(path) as stream:
        hook = json.load(stream)
    body = hook["body"]
    print(json.dumps({"via": "hook", "host": body["host"], "subject": body["subject"], "state": body["state"],
                      "title": body["text"].splitlines()[0], "path": hook["path"], "text": body["text"], "body": body}))
"""


def sink():
    return hosts_named(["pydeploy-acme-ca"])["pydeploy-acme-ca"]


def notices(host_name, subject=None):
    out = sink().check_output(f"python3 - <<'EOF'\n{READ_SINKS}\nEOF")
    found = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [one for one in found if one["host"] == host_name and (subject is None or one["subject"] == subject)]


def wait_for_notices(host_name, subject, state, count=2, seconds=60):
    """The notices of one subject and state (one by mail, one by webhook), once both arrived
    (count: how many there are to be, earlier incidents' included)."""
    deadline = time.monotonic() + seconds
    while True:
        found = [one for one in notices(host_name, subject) if one["state"] == state]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(1)


def monitor(host, times=1):
    for _ in range(times):
        host.check_output(f"systemctl start {MONITOR}")


def by_channel(found):
    return sorted(one["via"] for one in found)


def test_a_new_channel_got_one_test_notice(host):
    found = [one for one in notices(name_of(host)) if one["state"] == "test"]
    # Sent by the first converge; the idempotence run sent none.
    assert by_channel(found) == ["hook", "mail"], found
    hook = next(one for one in found if one["via"] == "hook")
    assert hook["path"] == HOOK_PATH
    mail = next(one for one in found if one["via"] == "mail")
    assert mail["to"] == "ops@pydeploy.test"


def test_the_configuration_holding_the_secrets_is_the_notifiers_only(host):
    config = host.file("/etc/pydeploy/alerts/hello.json")
    assert (config.user, config.group, config.mode) == ("root", "pydeploy-alert", 0o640)
    assert HOOK_PATH in config.content_string
    assert host.user("pydeploy-alert").shell == "/usr/sbin/nologin"


def test_the_monitor_runs_sandboxed_as_its_user(host, capsys):
    unit = host.check_output(f"systemctl show -p User,ProtectSystem,NoNewPrivileges {MONITOR}")
    assert "User=pydeploy-alert" in unit and "ProtectSystem=strict" in unit and "NoNewPrivileges=yes" in unit
    assert sandbox_exposure(host, MONITOR, capsys) < 2.5
    timer = host.check_output("systemctl show -p ActiveState,UnitFileState pydeploy-monitor-hello.timer")
    assert "ActiveState=active" in timer and "UnitFileState=enabled" in timer


@pytest.fixture
def unit(host):
    """The host's app service (behind Nginx) or front end (Apache with mod_wsgi)."""
    return "apache2.service" if name_of(host) == "pydeploy-acme-apache" else "hello.service"


def test_a_unit_that_fails_for_good_alerts_once_then_recovers(host, unit):
    subject = f"unit:{unit}"
    assert notices(name_of(host), subject) == []
    dropin = f"/run/systemd/system/{unit}.d"
    # No restart: the unit fails and stays failed, as one out of restarts does.
    host.check_output(f"mkdir -p {dropin} && printf '[Service]\\nRestart=no\\n' > {dropin}/zz-test.conf && systemctl daemon-reload")
    try:
        host.check_output(f"systemctl kill --signal=KILL {unit}")
        problem = wait_for_notices(name_of(host), subject, "problem")
        assert by_channel(problem) == ["hook", "mail"], problem
        for one in problem:
            assert one["title"].startswith(f"[{name_of(host)}] PROBLEM: {unit} failed (signal)"), one["title"]
            assert f"Host: {name_of(host)}" in one["text"] and "App: hello" in one["text"]
            # The unit's last log lines, systemd's own among them.
            assert f"Last log lines of {unit}" in one["text"]
            assert "status=9/KILL" in one["text"] or "code=killed" in one["text"], one["text"]
        hook = next(one for one in problem if one["via"] == "hook")["body"]
        assert hook["kind"] == "unit" and hook["apps"] == ["hello"] and hook["log"][unit]
        # Told again (as a second OnFailure would), and seen by the monitor: no second notice.
        host.check_output(f"systemctl start pydeploy-alert@{unit}.service")
        monitor(host)
    finally:
        host.run(f"rm -rf {dropin} && systemctl daemon-reload")
        host.check_output(f"systemctl start {unit}")
    monitor(host)
    recovery = wait_for_notices(name_of(host), subject, "recovery")
    assert by_channel(recovery) == ["hook", "mail"], recovery
    assert f"{unit} is active again" in recovery[0]["title"]
    assert by_channel(n for n in notices(name_of(host), subject) if n["state"] == "problem") == ["hook", "mail"]


def test_a_site_failing_its_health_check_alerts_once_then_recovers(host, unit):
    subject = "health:hello"
    assert notices(name_of(host), subject) == []
    # Behind Nginx the app server stops (Nginx answers 502); Apache, which
    # runs the app, stops (nothing answers).
    stop = "hello.socket hello.service" if unit == "hello.service" else unit
    host.check_output(f"systemctl stop {stop}")
    try:
        # alerts_health_failures: 2. One failure is no incident yet.
        monitor(host)
        time.sleep(2)
        assert notices(name_of(host), subject) == []
        monitor(host, times=3)
        problem = wait_for_notices(name_of(host), subject, "problem")
        assert by_channel(problem) == ["hook", "mail"], problem
        text = problem[0]["text"]
        assert "failed its health check 2 times in a row" in problem[0]["title"], problem[0]["title"]
        assert ("answered HTTP 502" in text) if unit == "hello.service" else ("no answer" in text), text
    finally:
        host.check_output(f"systemctl start {stop}")
    monitor(host)
    recovery = wait_for_notices(name_of(host), subject, "recovery")
    assert by_channel(recovery) == ["hook", "mail"], recovery
    assert "answers its health check through the front end again" in recovery[0]["title"]
    assert by_channel(n for n in notices(name_of(host), subject) if n["state"] == "problem") == ["hook", "mail"]


def test_a_filling_file_system_alerts_once_then_recovers(host):
    folder = "/srv/disk-alert-test"
    subject = f"disk:{folder}"
    host.check_output(f"mkdir -p {folder} && mount -t tmpfs -o size=1m tmpfs {folder}")
    try:
        host.check_output(f"dd if=/dev/zero of={folder}/fill bs=1k count=960 status=none")
        monitor(host, times=2)
        problem = wait_for_notices(name_of(host), subject, "problem")
        assert by_channel(problem) == ["hook", "mail"], problem
        assert "of its space free (threshold 10%)" in problem[0]["title"], problem[0]["title"]
        host.check_output(f"rm {folder}/fill")
        monitor(host)
        recovery = wait_for_notices(name_of(host), subject, "recovery")
        assert by_channel(recovery) == ["hook", "mail"], recovery
    finally:
        host.run(f"umount {folder}; rmdir {folder}")
    assert by_channel(n for n in notices(name_of(host), subject) if n["state"] == "problem") == ["hook", "mail"]


def test_a_pending_reboot_alerts_once_then_recovers(host):
    subject = "reboot:required"
    host.check_output("echo '*** System restart required ***' > /run/reboot-required && "
                      "printf 'linux-image-amd64\\nlibc6\\n' > /run/reboot-required.pkgs")
    try:
        monitor(host, times=2)
        problem = wait_for_notices(name_of(host), subject, "problem")
        assert by_channel(problem) == ["hook", "mail"], problem
        assert "a reboot is required to finish the updates" in problem[0]["title"]
        assert "libc6, linux-image-amd64" in problem[0]["text"]
    finally:
        host.run("rm -f /run/reboot-required /run/reboot-required.pkgs")
    monitor(host)
    recovery = wait_for_notices(name_of(host), subject, "recovery")
    assert by_channel(recovery) == ["hook", "mail"], recovery
    assert by_channel(n for n in notices(name_of(host), subject) if n["state"] == "problem") == ["hook", "mail"]
