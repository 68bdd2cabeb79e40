"""Two apps on one host: their own units, sockets, users and logs; Gunicorn
configuration changes applied under a stream of requests, none failing.

The last two tests change the hello app's settings, in order.
"""

import json
import re
import shlex
import uuid

import pytest
from conftest import RequestStream, retried, run_playbook, sslyze

APPS = {"hello": "sync", "chat": "gevent"}
# Where each app is served (nginx_app_location).
PREFIX = {"hello": "/", "chat": "/chat/"}


def resolve(app):
    return ["--resolve", f"{app}.test:443:127.0.0.1"]


def master_pid(host, app):
    return int(host.check_output(f"systemctl show --property MainPID --value {app}.service"))


def worker_pids(host, app):
    master = master_pid(host, app)
    return sorted(host.check_output(f"pgrep --parent {master}").split())


def run_in_sandbox(host, app, user, command):
    """Runs `command` as `user` under a copy of the app's service unit."""
    unit = host.file(f"/etc/systemd/system/{app}.service").content_string
    unit = re.sub(r"^(Type|NotifyAccess|ExecReload|Restart|Requires|After)=.*\n", "", unit, flags=re.M)
    unit = re.sub(r"^ExecStart=.*$", f"ExecStart={command}", unit, flags=re.M)
    unit = re.sub(r"^User=.*$", f"User={user}", unit, flags=re.M)
    unit = unit.replace("[Service]", "[Service]\nType=oneshot")
    host.run("rm -f /run/systemd/system/sandbox-probe.service; systemctl daemon-reload")
    host.check_output(f"cat > /run/systemd/system/sandbox-probe.service <<'EOF'\n{unit}EOF\nsystemctl daemon-reload")
    return host.run("systemctl start sandbox-probe.service")


def hello_under_stream(host, capsys, label, *extra_vars):
    """Runs site.yml for hello with `extra_vars` while a stream of requests
    goes to hello; prints and checks the count: none may fail. Returns the
    playbook's output."""
    with RequestStream(host, "https://hello.test/whoami", curl_args=resolve("hello")) as stream:
        rc, out = run_playbook("site.yml", "-e", "pydeploy_app_name=hello", *[a for v in extra_vars for a in ("-e", v)])
    assert rc == 0, out[-3000:]
    answers = stream.answers()
    failed = [line for line in answers if not line.endswith(" 200")]
    with capsys.disabled():
        print(f"\n  {label}: {len(answers)} requests, {len(failed)} failed, {retried(answers)} sent again after a GOAWAY")
    assert len(answers) >= 20
    assert failed == []
    return out


@pytest.mark.parametrize("app", APPS)
def test_each_app_has_its_units_user_and_logs(host, app):
    for unit in (f"{app}.socket", f"{app}.service"):
        assert host.service(unit).is_enabled, unit
        assert host.service(unit).is_running, unit
    assert host.user(app).exists
    uids = host.check_output(f"ps -o uid= --ppid {master_pid(host, app)}").split()
    assert uids and set(uids) == {str(host.user(app).uid)}
    log_dir = host.file(f"/var/log/{app}")
    assert log_dir.user == app and log_dir.mode == 0o750
    assert host.file(f"/var/log/{app}/access.log").exists
    assert host.file(f"/etc/logrotate.d/{app}").contains(f"/var/log/{app}/")
    assert host.file(f"/etc/nginx/sites-enabled/{app}.conf").exists
    assert host.file(f"/etc/ssl/pydeploy/{app}.test.crt").exists


@pytest.mark.parametrize("app", APPS)
def test_each_app_answers_on_its_own_socket(host, app):
    out = host.check_output(f"curl -s --max-time 10 --unix-socket /run/{app}/gunicorn.sock http://{app}.test/whoami")
    assert json.loads(out)["version"] == f"{app}-1"


@pytest.mark.parametrize("app", APPS)
def test_each_server_name_reaches_its_app_through_nginx(http, app):
    answer = http.json(f"https://{app}.test{PREFIX[app]}whoami", *resolve(app))
    assert answer["version"] == f"{app}-1"
    assert answer["scheme"] == "https"
    # Under a prefix the app builds its URLs with it (X-Forwarded-Prefix).
    assert answer["url"] == f"https://{app}.test{PREFIX[app]}whoami"
    status, _, body = http.get(f"https://{app}.test{PREFIX[app]}", *resolve(app))
    assert status == 200 and f"{app}-1" in body
    assert f'href="{PREFIX[app]}static/css/style.css"' in body


def test_only_the_prefix_reaches_an_app_served_under_one(http):
    # chat.test/whoami is outside /chat/: Nginx answers, not the app.
    status, headers, _ = http.get("https://chat.test/whoami", *resolve("chat"))
    assert status == 404
    # A prefix a client sends never reaches an app served at the root.
    answer = http.json("https://hello.test/whoami", "-H", "X-Forwarded-Prefix: /evil", *resolve("hello"))
    assert answer["url"] == "https://hello.test/whoami"


def test_immutable_static_files_are_cached_a_year(http):
    status, headers, _ = http.get("https://hello.test/static/css/style.css", *resolve("hello"))
    assert status == 200
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "expires" not in headers
    status, headers, _ = http.get("https://chat.test/static/css/style.css", *resolve("chat"))
    assert status == 200 and "max-age=604800" in headers["cache-control"]


WEBSOCKET_CLIENT = """
import base64, json, os, socket, ssl, sys
from hello import websocket
context = ssl.create_default_context(cafile="/etc/ssl/pydeploy/pydeploy-ca.crt")
sock = context.wrap_socket(socket.create_connection(("127.0.0.1", 443), timeout=10), server_hostname="chat.test")
status, headers = websocket.handshake(sock, "/ws/echo", "chat.test", base64.b64encode(os.urandom(16)).decode())
answers = []
for text in sys.argv[1:]:
    sock.sendall(websocket.frame(0x1, text.encode(), mask=os.urandom(4)))
    answers.append(json.loads(websocket.read_frame(sock)[1]))
sock.sendall(websocket.frame(0x8, b"\\x03\\xe8", mask=os.urandom(4)))
print(json.dumps({"status": status, "upgrade": headers.get("upgrade"), "answers": answers, "close": list(websocket.read_frame(sock)[1])}))
"""


def test_websocket_echo_through_nginx_on_gevent_workers(host):
    # The WebSocket location once repeated proxy_read_timeout (the proxy
    # directives set it, then the location again): nginx -t refused the site.
    site = host.file("/etc/nginx/sites-enabled/chat.conf").content_string
    block = site[site.index("location /ws/ {"):]
    block = block[: block.index("}")]
    assert re.findall(r"proxy_read_timeout \S+;", block) == ["proxy_read_timeout 1h;"], block
    assert re.findall(r"proxy_send_timeout \S+;", block) == ["proxy_send_timeout 1h;"], block
    assert host.run("nginx -t").rc == 0
    # A client in the host (the release's own hello.websocket helpers), over
    # TLS through Nginx to chat's gevent worker: the handshake, three
    # messages (one over 125 bytes: a longer length field) and the close.
    messages = ["hello", "w" * 200, uuid.uuid4().hex]
    client = host.run(
        "cd /srv/chat/current && venv/bin/python -c " + shlex.quote(WEBSOCKET_CLIENT) + " " + " ".join(messages)
    )
    assert client.rc == 0, client.stderr
    seen = json.loads(client.stdout)
    assert seen["status"] == "HTTP/1.1 101 Switching Protocols" and seen["upgrade"] == "websocket", seen
    assert [answer["echo"] for answer in seen["answers"]] == messages
    assert {answer["version"] for answer in seen["answers"]} == {"chat-1"}
    assert seen["close"] == [3, 232]


@pytest.mark.parametrize("app", APPS)
def test_each_app_runs_its_worker_class(host, app):
    worker_class = APPS[app]
    assert host.file(f"/etc/{app}/gunicorn.conf.py").contains(f'^worker_class = "{worker_class}"$')
    assert host.file(f"/var/log/{app}/error.log").contains(f"Using worker: {worker_class}")
    has_gevent = host.run(f"/srv/{app}/current/venv/bin/python -c 'import gevent, greenlet'").rc == 0
    # gevent (with greenlet) only in the venv of the app that uses it.
    assert has_gevent == (worker_class == "gevent")


@pytest.mark.parametrize("app", APPS)
def test_tls_passes_sslyze_mozilla_modern(host, tmp_path, app, capsys):
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(host.file("/etc/ssl/pydeploy/pydeploy-ca.crt").content_string)
    rc, out = sslyze(f"{app}.test:18444{{127.0.0.1}}", ca_file, "modern")
    verdict = re.search(rf"^\s*{app}.test:18444: (.*)$", out, re.M)
    with capsys.disabled():
        print(f"\n  sslyze --mozilla_config=modern {app}.test: {verdict.group(1) if verdict else out[-500:]}")
    assert rc == 0, out[-3000:]
    assert verdict and verdict.group(1) == "OK - Compliant.", out[-3000:]
    # TLS 1.2 is refused, with or without the name.
    for name in (f"-servername {app}.test", "-noservername"):
        assert host.run(f"echo | openssl s_client -connect 127.0.0.1:443 {name} -tls1_2").rc != 0, name


def test_apps_cannot_read_each_others_secrets(host):
    assert host.run("sudo -u hello cat /etc/chat/env").rc != 0
    assert host.run("sudo -u chat cat /etc/hello/env").rc != 0
    assert host.run("sudo -u chat test -w /var/log/hello/access.log").rc != 0


def test_app_writes_only_its_shared_folders(host):
    # ProtectSystem=strict: the shared folder is writable (ReadWritePaths),
    # the code and the rest of /srv are not, even where permissions allow.
    unit = host.file("/etc/systemd/system/hello.service").content_string
    assert re.search(r"^ReadWritePaths=/var/log/hello /srv/hello/shared/uploads$", unit, re.M), unit
    # A copy of the service unit running a command instead of Gunicorn: as
    # the app user, the shared folder takes a file; even root cannot write
    # next to the code there, while outside the sandbox root can.
    assert run_in_sandbox(host, "hello", "hello", "/usr/bin/touch /srv/hello/shared/uploads/probe").rc == 0
    assert run_in_sandbox(host, "hello", "root", "/usr/bin/touch /srv/hello/probe").rc != 0
    assert "Read-only file system" in host.check_output("journalctl -u sandbox-probe -n 5 --no-pager")
    assert host.run("touch /srv/hello/probe && rm /srv/hello/probe").rc == 0


def test_config_change_reloads_without_a_failed_request(host, capsys):
    before_master, before_workers = master_pid(host, "hello"), worker_pids(host, "hello")
    chat_master = master_pid(host, "chat")
    out = hello_under_stream(host, capsys, "gunicorn.conf.py change (HUP)", "gunicorn_timeout=31")
    # Tried on a Gunicorn of its own first, then a reload, no restart.
    assert re.search(r"Start an instance with the new files, Gunicorn\] \*+\nok", out), out[-3000:]
    assert re.search(r"Reload, new workers, running requests finishing, Gunicorn\] \*+\nchanged", out), out[-3000:]
    assert re.search(r"Restart the service, the socket holding requests meanwhile, Gunicorn\] \*+\nskipping", out), out[-3000:]
    # HUP: same master, new workers; the other app untouched.
    assert master_pid(host, "hello") == before_master
    assert set(worker_pids(host, "hello")).isdisjoint(before_workers)
    assert master_pid(host, "chat") == chat_master
    assert host.file("/etc/hello/gunicorn.conf.py").contains("^timeout = 31$")


def test_unit_change_restarts_once_without_a_failed_request(host, capsys):
    before_master = master_pid(host, "hello")
    chat_master = master_pid(host, "chat")
    # The unit (a sandbox override) and the configuration change together.
    out = hello_under_stream(
        host,
        capsys,
        "unit + config change (restart)",
        "gunicorn_timeout=32",
        '{"gunicorn_sandbox_overrides": {"PrivateDevices": false}}',
    )
    # One restart applies both; the trial and the reload are skipped.
    assert len(re.findall(r"Restart the service, the socket holding requests meanwhile, Gunicorn\] \*+\nchanged", out)) == 1, out[-3000:]
    assert re.search(r"Reload, new workers, running requests finishing, Gunicorn\] \*+\nskipping", out), out[-3000:]
    assert "Start an instance with the new files, Gunicorn" not in out
    assert master_pid(host, "hello") != before_master
    assert master_pid(host, "chat") == chat_master
    assert host.file("/etc/systemd/system/hello.service").contains("^PrivateDevices=no$")
    assert host.service("hello.service").is_running
