"""uWSGI behind Nginx (pydeploy_app_server: uwsgi) on both hosts of the
scenario (Debian 12 and 13), in file order: what runs and how it is
confined, what uWSGI makes of its configuration, Nginx speaking uWSGI's
protocol, a configuration that fails its trial and a unit that fails to
start (both put back), a release switch, a broken release and a rollback
under a request stream, kill -9 of the master. The logs (JSON on the
Debian 12 host, the journal on the Debian 13 one) and their rotation:
../../_shared/tests/test_logs.py.

Each playbook run covers both hosts at once (with a request stream on each
where one is counted): module-scoped fixtures run it once and record each
host's state before and after; the tests then check each host.
"""

import json
import re
import shlex

import pytest
from conftest import (
    APP,
    changed_count,
    make_version,
    name_of,
    report_stream,
    run_playbook,
    run_watched,
    sandbox_exposure,
    tags_of,
)

HOSTS = ("pydeploy-uwsgi", "pydeploy-uwsgi-debian13")

CONF = f"/etc/{APP}/uwsgi.ini"
SOCKET = f"/run/{APP}/uwsgi.sock"
LOG = f"/var/log/{APP}/uwsgi.log"


def main_pid(host):
    return int(host.check_output(f"systemctl show --property=MainPID --value {APP}.service"))


def worker_pids(host):
    """The app's uWSGI processes other than the master."""
    master = main_pid(host)
    pids = host.check_output(f"pgrep -u {APP} -f '^{APP} ' || true").split()
    return {int(pid) for pid in pids} - {master}


def socket_inode(host):
    return host.check_output(f"stat -c %i {SOCKET}")


def uwsgi_option(host, name):
    """What uWSGI itself reads from the installed file (--get)."""
    return host.check_output(f"runuser -u {APP} -- /usr/bin/uwsgi-core --ini {CONF} --get {name} 2>/dev/null")


def served_version(host):
    return json.loads(host.check_output("curl -sk --max-time 10 https://localhost/whoami"))["version"]


def state(host):
    """(the master's PID, the socket's inode, the ini file, the service's
    unit, the version served)."""
    return (main_pid(host), socket_inode(host), host.file(CONF).content_string,
            host.file(f"/etc/systemd/system/{APP}.service").content_string, served_version(host))


def on_both(playbook, *args, stream=False):
    """Runs a playbook against both hosts, with a request stream through
    Nginx on each if asked; returns (exit code, output, {host: (answers,
    state before, state after)})."""
    return run_watched(HOSTS, state, playbook, *args, stream=stream)


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    base = tmp_path_factory.mktemp("versions")
    return {"v2": make_version(base, "2.0.0"), "v3": make_version(base, "3.0.0", broken=True)}


# The failure cases change uWSGI's settings alone: the uwsgi role's run,
# as an operator would make it (the other roles' tasks have nothing to do).
UWSGI_ONLY = ("--tags", "uwsgi")


@pytest.fixture(scope="module")
def failed_trial():
    # uWSGI knows the option (the file passes its check) but cannot start
    # with it.
    extra = json.dumps({"uwsgi_extra_options": {"req-logger": "file:/var/log/no-such-folder/requests.log"}})
    return on_both("site.yml", *UWSGI_ONLY, "-e", extra)


@pytest.fixture(scope="module")
def unknown_option(failed_trial):
    return on_both("site.yml", *UWSGI_ONLY, "-e", '{"uwsgi_extra_options": {"harakiri-verbosee": true}}')


@pytest.fixture(scope="module")
def unit_that_fails(unknown_option):
    return on_both("site.yml", *UWSGI_ONLY, "-e", '{"uwsgi_sandbox_overrides": {"ReadWritePaths": "/nonexistent-folder"}}')


# Both hosts in one batch (pydeploy_serial rolls one host at a time by
# default): each must refuse v3 itself.
BOTH = ("-e", "pydeploy_serial=100%")


@pytest.fixture(scope="module")
def switch_to_v2(unit_that_fails, versions):
    return on_both("deploy.yml", *BOTH, "-e", f"app_src={versions['v2']}", stream=True)


@pytest.fixture(scope="module")
def broken_v3(switch_to_v2, versions):
    return on_both("deploy.yml", *BOTH, "-e", f"app_src={versions['v3']}", stream=True)


@pytest.fixture(scope="module")
def rollback(broken_v3):
    return on_both("rollback.yml", *BOTH, stream=True)


def test_service_and_socket_run_as_meant(host):
    for unit in (f"{APP}.socket", f"{APP}.service"):
        assert host.service(unit).is_enabled, unit
        assert host.service(unit).is_running, unit
    sock = host.file(SOCKET)
    assert sock.is_socket
    assert (sock.user, sock.group, sock.mode) == ("www-data", "www-data", 0o660)
    # Every uWSGI process of the app runs as the app user, from Debian's
    # binary with the Python plugin.
    uid = host.user(APP).uid
    for pid in {main_pid(host)} | worker_pids(host):
        assert re.search(rf"^Uid:\s+{uid}\s", host.file(f"/proc/{pid}/status").content_string, re.M), pid
    assert f"path=/usr/bin/uwsgi-core ; argv[]=/usr/bin/uwsgi-core --ini {CONF} " in host.check_output(
        f"systemctl show --property=ExecStart {APP}.service"
    )
    assert len(worker_pids(host)) == 2
    assert host.package("uwsgi-plugin-python3").is_installed


def test_service_sandbox_exposure_is_at_most_2(host, capsys):
    assert sandbox_exposure(host, f"{APP}.service", capsys) <= 2.0
    unit = host.file(f"/etc/systemd/system/{APP}.service").content_string
    assert "Restart=on-failure" in unit
    assert f"User={APP}" in unit


def test_uwsgi_reads_the_rendered_settings(host):
    # What uWSGI itself makes of the file, not only what the file says.
    expected = {
        "master": "true", "processes": "2", "threads": "2", "enable-threads": "true", "harakiri": "30",
        "max-requests": "1000", "max-worker-lifetime": "3600", "max-worker-lifetime-delta": "30",
        "buffer-size": "8192", "post-buffering": "8192", "vacuum": "true", "die-on-term": "true",
        "need-app": "true", "strict": "true", "lazy-apps": "false", "thunder-lock": "true",
        "socket": SOCKET, "virtualenv": f"/srv/{APP}/current/venv",
    }
    # Debian 12: JSON request lines in the file, through the script that
    # hands uWSGI the escaped fields; Debian 13: plain lines, in the journal.
    variables = host.ansible.get_variables()
    if variables.get("pydeploy_log_format") == "json":
        expected |= {"wsgi-file": f"/etc/{APP}/uwsgi_json_log.py"}
    else:
        expected |= {"wsgi-file": f"/srv/{APP}/current/.pydeploy/app.wsgi"}
    if variables.get("pydeploy_log_destination") == "journal":
        assert uwsgi_option(host, "logto") == ""
    else:
        expected["logto"] = LOG
    assert {name: uwsgi_option(host, name) for name in expected} == expected
    conf = host.file(CONF)
    assert (conf.user, conf.group, conf.mode) == ("root", APP, 0o640)


UWSGI_CLIENT = """
import json, socket, struct, sys
# A request in uWSGI's own protocol (as Nginx's uwsgi_pass writes one) to a
# TCP port or a unix socket, with more variables from argv[2] (JSON).
env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/health", "QUERY_STRING": "", "SERVER_NAME": "localhost",
       "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "localhost", "REMOTE_ADDR": "127.0.0.1"}
env.update(json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
body = b"".join(struct.pack("<H", len(k)) + k.encode() + struct.pack("<H", len(v)) + v.encode() for k, v in env.items())
where = sys.argv[1]
if where.isdigit():
    sock = socket.create_connection(("127.0.0.1", int(where)), timeout=10)
else:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(where)
with sock:
    sock.sendall(struct.pack("<BHB", 0, len(body), 0) + body)
    answer = b""
    try:
        while chunk := sock.recv(4096):
            answer += chunk
    except ConnectionResetError:
        pass
print(answer.decode(errors="replace"))
"""
# Code a request names for uWSGI to load (a dynamic app), where the
# service can read it: its answer would say it ran.
DYNAMIC_APP = "/usr/local/share/pydeploy-test/dynamic_app.py"
DYNAMIC_APP_CODE = (
    "def application(environ, start_response):\n"
    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
    "    return [b'a dynamic app ran']\n"
)


def write_dynamic_app(host):
    host.run(f"mkdir -p {DYNAMIC_APP.rsplit('/', 1)[0]} && printf %s {shlex.quote(DYNAMIC_APP_CODE)} > {DYNAMIC_APP}")


def uwsgi_request(host, where, **variables):
    return host.check_output(f"python3 -c {shlex.quote(UWSGI_CLIENT)} {shlex.quote(str(where))} {shlex.quote(json.dumps(variables))}")


def test_tcp_listener_answers_in_uwsgi_protocol_to_the_allowed_alone_where_set(host):
    # uwsgi_tcp_port (an app host of a split stack has one): systemd holds
    # the TCP socket beside the unix one and lets this host and
    # uwsgi_tcp_allow alone connect; uWSGI answers on it in its own protocol
    # (a request packet written here, as Nginx's uwsgi_pass sends), and a
    # request there that names code to load gets 403.
    port = int(host.ansible.get_variables().get("uwsgi_tcp_port", 0))
    socket_unit = host.file(f"/etc/systemd/system/{APP}.socket").content_string
    listens = host.check_output("cat /proc/net/tcp /proc/net/tcp6")
    if port:
        assert f"ListenStream=127.0.0.1:{port}" in socket_unit
        assert re.search(r"^IPAddressDeny=any$", socket_unit, re.M), socket_unit
        assert re.search(r"^IPAddressAllow=localhost 127\.0\.0\.1$", socket_unit, re.M), socket_unit
        assert re.search(rf"^socket = 127\.0\.0\.1:{port}$", host.file(CONF).content_string, re.M)
        answer = uwsgi_request(host, port)
        assert answer.startswith("HTTP/1.1 200"), answer
        assert '"status":"healthy"' in answer.replace(" ", ""), answer
        write_dynamic_app(host)
        answer = uwsgi_request(host, port, UWSGI_FILE=DYNAMIC_APP, SCRIPT_NAME="/elsewhere")
        assert answer.startswith("HTTP/1.1 403") and "a dynamic app ran" not in answer, answer
    else:
        # Off by default: the unix socket only.
        assert "ListenStream=127.0.0.1" not in socket_unit and "IPAddressDeny" not in socket_unit
    assert (f":{port:04X} 00000000:0000 0A" in listens) == bool(port)


def test_a_request_that_names_code_to_load_is_refused_on_the_front_end_s_socket(host):
    # uWSGI loads a "dynamic app" a request names (UWSGI_FILE, UWSGI_MODULE
    # with UWSGI_CALLABLE, UWSGI_SCRIPT) beside the one configured; the
    # configuration refuses such a request with 403 before anything loads,
    # even on the local socket the front end speaks uWSGI's protocol on.
    sock = host.check_output(f"systemctl show -p Listen --value {APP}.socket").split()[0]
    write_dynamic_app(host)
    assert uwsgi_request(host, sock).startswith("HTTP/1.1 200")
    for variables in ({"UWSGI_FILE": DYNAMIC_APP}, {"UWSGI_SCRIPT": "dynamic_app:application"},
                      {"UWSGI_MODULE": "dynamic_app", "UWSGI_CALLABLE": "application", "UWSGI_PYHOME": "/usr"}):
        answer = uwsgi_request(host, sock, SCRIPT_NAME="/elsewhere", **variables)
        assert answer.startswith("HTTP/1.1 403") and "a dynamic app ran" not in answer, (variables, answer)
    host.run(f"rm -r {DYNAMIC_APP.rsplit('/', 1)[0]}")


def test_nginx_passes_requests_in_uwsgi_protocol_with_the_client_seen(host):
    site = host.file(f"/etc/nginx/sites-enabled/{APP}.conf").content_string
    assert "uwsgi_pass" in site and "include uwsgi_params;" in site
    assert "proxy_pass" not in site
    # The app sees HTTPS and the client's address, and a forged
    # X-Forwarded-For from a client that is no trusted proxy (the host's own
    # network address; 127.0.0.1 is one here) counts for nothing.
    address = host.check_output("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1")
    seen = json.loads(host.check_output(
        f"curl -sk --resolve localhost:443:{address} -H 'X-Forwarded-For: 203.0.113.9' https://localhost/whoami"
    ))
    assert seen["scheme"] == "https"
    assert seen["remote_addr"] == address
    assert seen["url"].startswith("https://localhost/")


def test_configuration_that_fails_its_trial_never_reaches_the_service(host, http, failed_trial):
    # The trial fails, the file is put back, the service untouched.
    rc, out, per_host = failed_trial
    assert rc != 0, out[-3000:]
    flat = " ".join(out.split())
    assert re.search(rf"fatal: \[{name_of(host)}\]: FAILED! => .{{0,300}}a uWSGI with the new configuration did not start or answer", flat), out[-3000:]
    assert "the running service never saw the new ones" in flat, out[-3000:]
    _, before, after = per_host[name_of(host)]
    assert after == before
    assert host.check_output(f"ls /etc/{APP} | grep -c '~$' || true") == "0"
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_an_option_uwsgi_does_not_know_is_refused_before_it_is_written(host, unknown_option):
    rc, out, per_host = unknown_option
    assert rc != 0
    assert "unknown config directive: harakiri-verbosee" in out, out[-3000:]
    _, before, after = per_host[name_of(host)]
    assert after == before


def test_unit_that_does_not_start_is_put_back_and_the_service_answers_again(host, http, unit_that_fails):
    rc, out, per_host = unit_that_fails
    assert rc != 0, out[-3000:]
    flat = " ".join(out.split())
    unit = f"/etc/systemd/system/{APP}.service"
    assert re.search(rf"fatal: \[{name_of(host)}\]: FAILED! => .{{0,300}}{APP}.service failed its health check after {unit} changed", flat), out[-3000:]
    assert "applied again: the service answers again." in flat, out[-3000:]
    _, before, after = per_host[name_of(host)]
    # All but the master's PID: it was restarted with the new unit, then
    # with the old one.
    assert after[1:] == before[1:]
    assert host.service(f"{APP}.service").is_running
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_release_switch_drops_no_request(host, switch_to_v2, capsys):
    rc, out, per_host = switch_to_v2
    assert rc == 0, out[-3000:]
    answers, before, after = per_host[name_of(host)]
    failed, seen = report_stream(capsys, f"uWSGI switch v1 -> v2 on {name_of(host)}", answers, ("1.0.0", "2.0.0"))
    assert len(answers) >= 20
    assert failed == []
    assert seen == ["1.0.0", "2.0.0"]
    assert '"version":"1.0.0"' not in answers[-1]
    assert after[4] == "2.0.0"
    # A new master, behind the same socket: systemd held it throughout.
    assert after[0] != before[0]
    assert after[1] == before[1]


def test_broken_release_is_refused_while_the_old_one_serves(host, broken_v3, capsys):
    rc, out, per_host = broken_v3
    assert rc != 0
    flat = " ".join(out.split())
    assert re.search(rf"fatal: \[{name_of(host)}\]: FAILED! => .{{0,200}}Release v3\S+ failed its trial before the switch", flat), out[-3000:]
    assert "module_that_does_not_exist" in out
    answers, before, after = per_host[name_of(host)]
    failed, _ = report_stream(capsys, f"uWSGI broken v3 refused on {name_of(host)}", answers, ("2.0.0",))
    assert len(answers) >= 10
    assert failed == []
    assert after[0] == before[0]
    assert after[4] == "2.0.0"


def test_rollback_drops_no_request(host, rollback, capsys):
    rc, out, per_host = rollback
    assert rc == 0, out[-3000:]
    answers, _, after = per_host[name_of(host)]
    failed, seen = report_stream(capsys, f"uWSGI rollback v2 -> v1 on {name_of(host)}", answers, ("2.0.0", "1.0.0"))
    assert failed == []
    assert "1.0.0" in seen
    assert after[4] == "1.0.0"


def test_killed_master_is_restarted_and_answers_within_10_seconds(host, capsys):
    pid = main_pid(host)
    # Bounded: at most 40 tries, 0.25 s apart, each with a 1 s limit.
    out = host.check_output(
        f"kill -9 {pid}; start=$(date +%s.%N); i=0; "
        "while [ $i -lt 40 ]; do "
        "code=$(curl -sk --max-time 1 -o /dev/null -w '%{http_code}' https://localhost/health); "
        "[ \"$code\" = 200 ] && break; i=$((i+1)); sleep 0.25; done; "
        "echo \"$code $(awk -v a=$start -v b=$(date +%s.%N) 'BEGIN { print b - a }')\""
    )
    code, seconds = out.split()
    with capsys.disabled():
        print(f"\n  kill -9 of the uWSGI master on {name_of(host)}: answering again (HTTP {code}) after {float(seconds):.1f} s")
    assert code == "200"
    assert float(seconds) <= 10
    assert main_pid(host) != pid
    # The new master makes its FIFO again (logrotate's reopen goes through
    # it): it may answer before that, so a bounded wait (10 s) for the FIFO.
    fifo = f"/run/{APP}-uwsgi/master.fifo"
    host.run(f"for i in $(seq 100); do [ -p {fifo} ] && break; sleep 0.1; done")
    assert host.file(fifo).is_pipe


@pytest.fixture(scope="module")
def uwsgi_tag_runs():
    """Each uWSGI tag `--list-tags` shows, alone, in check mode on both hosts
    (the other roles' tags run in the debian13 scenario: test_tags.py)."""
    runs = [(playbook, tag) for playbook in ("site.yml", "deploy.yml", "rollback.yml") for tag in tags_of(playbook) if tag.startswith("uwsgi")]
    return {run: run_playbook(run[0], "--check", "--tags", run[1]) for run in runs}


def test_every_uwsgi_tag_works_alone_in_check_mode(host, uwsgi_tag_runs, capsys):
    assert ("site.yml", "uwsgi") in uwsgi_tag_runs and ("site.yml", "uwsgi_config") in uwsgi_tag_runs, list(uwsgi_tag_runs)
    for run, (rc, out) in uwsgi_tag_runs.items():
        assert rc == 0, (run, out[-3000:])
        recap = re.search(rf"^{name_of(host)}\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", out, re.M)
        assert recap and recap.group(1) == "0", (run, out[-3000:])
    with capsys.disabled():
        print(f"\n  {len(uwsgi_tag_runs)} uWSGI tag runs in check mode on {name_of(host)}: none failed or changed anything")


@pytest.fixture(scope="module")
def second_run(rollback):
    return run_playbook("site.yml")


def test_a_run_after_all_that_changes_nothing(second_run):
    rc, out = second_run
    assert rc == 0, out[-3000:]
    assert changed_count(out) == 0, out[-3000:]


def test_log_reopen_never_writes_as_root_through_the_apps_folder(host):
    # The FIFO's folder is the service's (the app user's): between logrotate's
    # check and its write the app can put a link there, to a FIFO or file
    # only root may write. The reopen command writes as the app user, so the
    # link leads nowhere; as root it wrote "l" into the victim.
    config = host.file(f"/etc/logrotate.d/{APP}").content_string
    command = re.search(r"postrotate\n\s*(.+?)\n\s*endscript", config, re.S).group(1).strip()
    fifo = f"/run/{APP}-uwsgi/master.fifo"
    assert fifo in command, command
    victim = "/root/pydeploy-reopen-victim"
    host.check_output(f"rm -f {victim} {victim}.out && mkfifo -m 0600 {victim}")
    host.check_output(f"systemd-run --collect --unit=reopen-victim /bin/sh -c 'timeout 20 cat {victim} > {victim}.out'")
    host.check_output(f"mv {fifo} {fifo}.held && ln -s {victim} {fifo}")
    try:
        host.run(command)
        # Let the reader go: a writer that writes nothing.
        host.run(f"timeout 5 sh -c ': > {victim}'")
        host.run("for i in $(seq 50); do systemctl is-active -q reopen-victim || break; sleep 0.1; done")
        assert host.file(f"{victim}.out").content_string == ""
    finally:
        host.run("systemctl stop reopen-victim")
        host.check_output(f"rm -f {fifo} {victim} {victim}.out && mv {fifo}.held {fifo}")
    # With the FIFO back, the reopen reaches the master again.
    assert host.run(command).rc == 0
    assert host.file(fifo).is_pipe
