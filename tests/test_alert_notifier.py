"""The alerts role's notifier (roles/alerts/files/usr/local/lib/pydeploy/alert)
on the controller: incidents open once and close once, notices reach a real
SMTP sink (aiosmtpd) and a webhook receiver, wait in the outbox while a
channel is down, and never show a password or a webhook's token. systemd and
the journal are stood in for; the acme scenario runs it on real hosts."""

import http.server
import json
import os
import socket
import threading
import types

import host_scripts
import pytest
from aiosmtpd.controller import Controller




class Mails:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.received.append(envelope.content.decode())
        return "250 OK"


@pytest.fixture
def smtp():
    handler = Mails()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        handler.port = free.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def hooks():
    received = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield types.SimpleNamespace(received=received, url=f"http://127.0.0.1:{server.server_address[1]}/hook/s3cret-token")
    server.shutdown()


@pytest.fixture
def alert(tmp_path, monkeypatch):
    module = host_scripts.load_with_folders("roles/alerts/files/usr/local/lib/pydeploy/alert", "pydeploy_alert", monkeypatch,
                                            CONFIG_DIR=tmp_path / "etc", STATE_DIR=tmp_path / "state")
    monkeypatch.setattr(module, "REBOOT_FLAG", str(tmp_path / "no-reboot-required"))
    module.units = {}
    monkeypatch.setattr(module, "unit_state", lambda unit: module.units.get(unit, {"ActiveState": "active"}))
    monkeypatch.setattr(module, "journal", lambda unit, lines: [f"{unit}: line {n}" for n in range(min(lines, 3))])
    module.write = lambda app, **config: (tmp_path / "etc" / f"{app}.json").write_text(
        json.dumps({"app": app, "host": "web1", "units": [], "disk": {}, "log_lines": 5, **config}))
    module.outbox = lambda: sorted(os.listdir(tmp_path / "state" / "outbox"))
    return module


def email_channel(smtp, **more):
    return {"to": ["ops@example.org"], "relay": "127.0.0.1", "port": smtp.port, "tls": "none", **more}


def test_a_failed_unit_opens_one_incident_and_the_monitor_closes_it(alert, smtp, hooks):
    alert.write("hello", units=["hello.service"], email=email_channel(smtp), webhooks=[hooks.url])
    alert.units["hello.service"] = {"ActiveState": "failed", "Result": "exit-code"}
    assert alert.main(["alert", "failed", "hello.service"]) == 0
    assert alert.main(["alert", "failed", "hello.service"]) == 0
    assert len(smtp.received) == 1 and len(hooks.received) == 1
    mail = smtp.received[0]
    assert "Subject: [web1] PROBLEM: hello.service failed (exit-code) and stays failed" in mail
    assert "X-Pydeploy-Subject: unit:hello.service" in mail and "hello.service: line 2" in mail
    path, body = hooks.received[0]
    assert path == "/hook/s3cret-token"
    assert (body["state"], body["kind"], body["subject"], body["apps"]) == ("problem", "unit", "unit:hello.service", ["hello"])
    assert body["log"] == {"hello.service": ["hello.service: line 0", "hello.service: line 1", "hello.service: line 2"]}
    assert body["text"].startswith("[web1] PROBLEM: hello.service failed")
    # Still failed: no recovery, no second notice.
    assert alert.main(["alert", "monitor", "hello"]) == 0
    assert len(smtp.received) == 1 and len(hooks.received) == 1
    alert.units["hello.service"] = {"ActiveState": "active", "Result": "success"}
    assert alert.main(["alert", "monitor", "hello"]) == 0
    assert alert.main(["alert", "monitor", "hello"]) == 0
    assert len(smtp.received) == 2 and len(hooks.received) == 2
    assert hooks.received[1][1]["state"] == "recovery"
    assert "hello.service is active again" in hooks.received[1][1]["summary"]
    assert "Problem since" in hooks.received[1][1]["details"]
    assert alert.outbox() == []


def test_a_unit_already_up_again_is_not_reported(alert, hooks):
    alert.write("hello", units=["hello.service"], webhooks=[hooks.url])
    alert.units["hello.service"] = {"ActiveState": "activating"}
    assert alert.main(["alert", "failed", "hello.service"]) == 0
    assert hooks.received == []


def test_a_finished_oneshot_closes_its_incident(alert, hooks):
    alert.write("hello", units=["renew.service"], webhooks=[hooks.url])
    alert.units["renew.service"] = {"ActiveState": "failed", "Result": "exit-code"}
    alert.main(["alert", "failed", "renew.service"])
    alert.units["renew.service"] = {"ActiveState": "inactive", "Result": "success"}
    alert.main(["alert", "monitor", "hello"])
    assert [body["state"] for _, body in hooks.received] == ["problem", "recovery"]


def test_the_apps_naming_a_unit_share_one_notice_per_channel(alert, smtp, hooks):
    # Two apps behind one Nginx, the same webhook; the second app's own mail too.
    alert.write("one", units=["nginx.service"], webhooks=[hooks.url])
    alert.write("two", units=["nginx.service", "two.service"], webhooks=[hooks.url], email=email_channel(smtp))
    alert.units["nginx.service"] = {"ActiveState": "failed", "Result": "signal"}
    alert.main(["alert", "failed", "nginx.service"])
    assert len(hooks.received) == 1 and len(smtp.received) == 1
    assert hooks.received[0][1]["apps"] == ["one", "two"]
    # An app that does not name the unit hears nothing of it.
    alert.write("three", units=["three.service"], webhooks=[hooks.url.replace("s3cret", "other")])
    alert.units["nginx.service"] = {"ActiveState": "active"}
    alert.main(["alert", "monitor", "one"])
    assert [path for path, _ in hooks.received] == ["/hook/s3cret-token"] * 2


def test_health_opens_after_n_failures_in_a_row_and_closes_on_the_first_success(alert, hooks, monkeypatch):
    health = {"endpoint": "https://127.0.0.1:443", "path": "/health", "host": "www.example.org",
              "ca_file": "/etc/ssl/x.crt", "failures": 3, "timeout": 5, "units": ["nginx.service", "hello.service"]}
    alert.write("hello", webhooks=[hooks.url], health=health)
    answers = iter(["answered HTTP 502", None, "answered HTTP 502", "answered HTTP 502", "no answer", "no answer", None, None])
    monkeypatch.setattr(alert, "probe", lambda _health: next(answers))
    for _ in range(6):
        alert.main(["alert", "monitor", "hello"])
    # A success reset the count; three failures in a row opened it, a fourth said nothing.
    assert [body["state"] for _, body in hooks.received] == ["problem"]
    body = hooks.received[0][1]
    assert body["subject"] == "health:hello" and "3 times in a row" in body["summary"]
    assert "https://www.example.org/health through https://127.0.0.1:443: no answer" in body["details"]
    assert set(body["log"]) == {"nginx.service", "hello.service"}
    alert.main(["alert", "monitor", "hello"])
    alert.main(["alert", "monitor", "hello"])
    assert [body["state"] for _, body in hooks.received] == ["problem", "recovery"]


def test_disk_opens_below_the_threshold_and_closes_two_points_above(alert, hooks, monkeypatch, tmp_path):
    alert.write("hello", webhooks=[hooks.url], disk={"paths": [str(tmp_path), str(tmp_path / "missing")], "min_free_percent": 10})
    monkeypatch.setattr(alert, "mount_point", lambda path: "/data")
    free = iter([9.0, 5.0, 11.0, 11.5, 12.5, 50.0])
    monkeypatch.setattr(alert.os, "statvfs", lambda _path: types.SimpleNamespace(
        f_blocks=1000, f_bavail=int(next(free) * 10), f_frsize=4096, f_files=100, f_favail=100))
    for _ in range(6):
        alert.main(["alert", "monitor", "hello"])
    states = [(body["state"], body["subject"]) for _, body in hooks.received]
    assert states == [("problem", "disk:/data"), ("recovery", "disk:/data")]
    assert "9.0% of its space free (threshold 10%)" in hooks.received[0][1]["summary"]
    assert "12.5% free again" in hooks.received[1][1]["summary"]


def test_a_required_reboot_is_told_once_to_every_app(alert, hooks, monkeypatch, tmp_path):
    flag = tmp_path / "reboot-required"
    monkeypatch.setattr(alert, "REBOOT_FLAG", str(flag))
    alert.write("one", webhooks=[hooks.url])
    alert.write("two", webhooks=[hooks.url.replace("s3cret", "other")])
    alert.main(["alert", "monitor", "one"])
    flag.write_text("*** System restart required ***\n")
    (tmp_path / "reboot-required.pkgs").write_text("linux-image-amd64\nlibc6\nlibc6\n")
    for app in ("one", "two", "one"):
        alert.main(["alert", "monitor", app])
    assert sorted((path, body["state"]) for path, body in hooks.received) == [
        ("/hook/other-token", "problem"), ("/hook/s3cret-token", "problem")]
    assert "libc6, linux-image-amd64" in hooks.received[0][1]["details"]
    flag.unlink()
    alert.main(["alert", "monitor", "two"])
    assert [body["state"] for _, body in hooks.received[2:]] == ["recovery", "recovery"]


def test_a_channel_down_keeps_the_notice_until_it_takes_it(alert, hooks):
    down = "http://127.0.0.1:9/hook/s3cret-token"
    alert.write("hello", units=["hello.service"], webhooks=[down])
    alert.units["hello.service"] = {"ActiveState": "failed", "Result": "exit-code"}
    alert.main(["alert", "failed", "hello.service"])
    assert len(alert.outbox()) == 1
    assert alert.main(["alert", "flush"]) == 1
    # The channel's URL changed (the operator fixed it): the old one's notice is dropped.
    alert.write("hello", units=["hello.service"], webhooks=[down, hooks.url])
    alert.units["hello.service"] = {"ActiveState": "active"}
    alert.main(["alert", "monitor", "hello"])
    assert [body["state"] for _, body in hooks.received] == ["recovery"]
    assert len(alert.outbox()) == 2
    alert.write("hello", units=["hello.service"], webhooks=[hooks.url])
    assert alert.main(["alert", "flush"]) == 0
    assert alert.outbox() == []


def test_an_old_notice_is_given_up(alert, monkeypatch):
    alert.write("hello", units=["hello.service"], webhooks=["http://127.0.0.1:9/hook"])
    alert.units["hello.service"] = {"ActiveState": "failed", "Result": "exit-code"}
    alert.main(["alert", "failed", "hello.service"])
    monkeypatch.setattr(alert, "OUTBOX_MAX_AGE", -1)
    alert.main(["alert", "flush"])
    assert alert.outbox() == []


def test_without_a_channel_incidents_go_to_the_journal_only(alert, capsys):
    alert.write("hello", units=["hello.service"])
    alert.units["hello.service"] = {"ActiveState": "failed", "Result": "timeout"}
    alert.main(["alert", "failed", "hello.service"])
    assert "PROBLEM unit:hello.service: hello.service failed (timeout)" in capsys.readouterr().err
    assert alert.outbox() == []


def test_the_test_notice_names_a_failing_channel_without_its_secrets(alert, smtp, hooks, capsys):
    alert.write("hello", webhooks=[hooks.url, "http://127.0.0.1:9/hook/s3cret-token"],
                email=email_channel(smtp, relay="127.0.0.1", port=9, user="u", password="pa55word"))
    assert alert.main(["alert", "test", "hello"]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "sent a test notice by webhook http://127.0.0.1:" in text
    assert "could not send a test notice by webhook http://127.0.0.1:9/…" in text
    assert "could not send a test notice by email to ops@example.org via 127.0.0.1:9" in text
    assert "s3cret" not in text and "pa55word" not in text
    assert [body["state"] for _, body in hooks.received] == ["test"]


def test_a_good_channel_set_takes_the_test_notice(alert, smtp):
    alert.write("hello", email=email_channel(smtp, **{"from": "alerts@example.org"}))
    assert alert.main(["alert", "test", "hello"]) == 0
    assert "From: alerts@example.org" in smtp.received[0] and "TEST: test notice" in smtp.received[0]


def test_unknown_commands_and_apps(alert):
    assert alert.main(["alert", "nonsense", "x"]) == 2
    assert alert.main(["alert"]) == 2
    assert alert.main(["alert", "test", "nobody"]) == 2
    assert alert.main(["alert", "monitor", "nobody"]) == 0
