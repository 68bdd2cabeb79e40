"""Changes that break what serves, and runs cut short, on the converged host.

- A Gunicorn setting that Gunicorn's own check accepts but that kills the
  master at its next start (reuse_port on a unix socket): a reload (HUP)
  would have kept the old master serving until the next restart; the trial
  Gunicorn with the new file fails, the previous configuration is put back,
  the service is never touched, and the play fails.
- An Nginx change that passes nginx -t but breaks the site (an upstream
  socket nobody listens on): put back, reloaded, the play fails; a new
  certificate written earlier in that run is still loaded (force_handlers).
- An operator's snippet (nginx_snippets) that nginx -t refuses: put back
  under a request stream that sees every answer.
- A build that fails (a package that does not exist) leaves the environment
  file in use as it was, and no copy of it.
- Runs killed, as a dying controller would be (molecule/_shared/
  callback_plugins/interrupt.py), between writing and applying: the next
  run applies what the first one wrote, checked on the running processes.
- Environment values reach the service, and the release's app.wsgi, exactly
  as written.
- One run at a time: a run finding the app's lock held by another waits,
  then fails naming it; a lock left by a run of this controller that is gone
  is taken over, and released even when the run fails.
- Root or a login account as the app user is refused before it is changed.

Each run is limited (--tags) to the roles the case is about, as an operator
changing one part would run it; the module's last step runs the whole of
site.yml with the inventory's values, which puts the host back as it was.
"""

import ast
import importlib.util
import json
import os
import pathlib
import shlex
import socket
import subprocess

import pytest
from conftest import APP, changed_count, name_of, retried, run_playbook, run_watched, served_fingerprint

CONF = f"/etc/{APP}/gunicorn.conf.py"
SITE = f"/etc/nginx/sites-available/{APP}.conf"
ENV = f"/etc/{APP}/env"
LOCK = f"/run/pydeploy/lock/{APP}.lock"
# Quotes, $, backquote, backslash, #, runs of spaces, non-ASCII, =.
AWKWARD = "über \"quoted\" 'single' $HOME ${X} `id` back\\slash \\n # not a comment  two  spaces a=b"


pytestmark = pytest.mark.usefixtures("put_back")


def main_pid(host):
    return host.check_output(f"systemctl show -p MainPID --value {APP}.service")


def worker_pids(host):
    return host.check_output(f"pgrep --parent {main_pid(host)}").split()


def master_env(host):
    pid = main_pid(host)
    raw = host.check_output(f"tr '\\0' '\\n' < /proc/{pid}/environ | base64 -w0")
    return dict(line.partition("=")[::2] for line in __import__("base64").b64decode(raw).decode().splitlines())


def no_leftovers(host):
    """No backup or copy of a configuration or of the settings beside them."""
    listing = host.check_output(f"ls -A /etc/{APP} /etc/nginx/sites-available /etc/nginx/conf.d /etc/systemd/system")
    assert not [name for name in listing.split() if name.endswith("~") or name.startswith(".env.")], listing


def still_serves_after_restarts(host, http):
    """The files left on disk are the ones that work: a restart of the app
    service and of Nginx (a reboot, a package upgrade) still serves."""
    host.check_output(f"systemctl restart {APP}.service nginx")
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_gunicorn_setting_that_kills_the_master_is_put_back(host, http):
    before = host.file(CONF).content_string
    rc, out = run_playbook("site.yml", "--tags", "gunicorn", "-e", '{"gunicorn_extra_settings": {"reuse_port": true}}')
    assert rc != 0, out[-3000:]
    flat = " ".join(out.split())
    assert f"{APP}.service failed its health check after {CONF} changed: a Gunicorn with the new configuration did not start" in flat, out[-3000:]
    assert "The previous files were put back; the running service never saw the new ones." in flat, out[-3000:]
    # Gunicorn's own complaint (SO_REUSEPORT on a unix socket), from the
    # trial's journal.
    assert "[Errno 95] Operation not supported" in out, out[-3000:]
    assert host.file(CONF).content_string == before
    assert http.json("https://localhost/health") == {"status": "healthy"}
    no_leftovers(host)
    still_serves_after_restarts(host, http)


def lock_action():
    """The run lock's action plugin (plugins/action/run_lock.py), loaded from the checkout."""
    path = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "plugins" / "action" / "run_lock.py"
    spec = importlib.util.spec_from_file_location("run_lock_action", path)
    action = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(action)
    return action


def plant_lock(host, holder):
    host.check_output(f"printf %s {shlex.quote(json.dumps(holder))} > {LOCK}")


def test_gunicorn_check_passes_whatever_folder_ansible_runs_in(host):
    """Gunicorn's configuration check runs as the app user, from /: started
    in the module's working folder, here one of root's alone (as Mitogen's
    /root/.ansible/tmp is), Gunicorn refused its default chdir and a good
    configuration was taken for a bad one."""
    host.check_output("install -d -m 0700 /root/pydeploy-cwd")
    try:
        rc, out = run_playbook("site.yml", "--tags", "gunicorn_config", "-e", '{"gunicorn_extra_settings": {"graceful_timeout": 31}}',
                               "-e", "ansible_docker_working_dir=/root/pydeploy-cwd")
    finally:
        host.run("rmdir /root/pydeploy-cwd")
    assert rc == 0, out[-3000:]
    assert 'graceful_timeout = json.loads("31")' in host.file(CONF).content_string


def test_nginx_change_that_breaks_the_site_is_put_back(host, http):
    # A run of this controller that is gone (Ctrl-C) left its lock: its
    # process id of this boot and PID namespace, the action's own notion of
    # "this controller" (as the run it starts here sees it).
    gone = subprocess.Popen(["true"])
    gone.wait()
    here = socket.gethostname()
    plant_lock(host, {"id": f"{here}:{gone.pid}:1", "controller": here, "namespace": lock_action().controller_namespace(),
                      "pid": gone.pid, "user": "me", "since": "earlier"})
    before, certificate = host.file(SITE).content_string, served_fingerprint(host)
    # The same run renews the certificate (tls_renew_days beyond its 90
    # days) before Nginx's change fails: the handler notified before the
    # failure still runs, and Nginx serves the certificate on disk.
    rc, out = run_playbook(
        "site.yml", "--tags", "tls,nginx", "-e", f"nginx_upstream_socket=/run/{APP}/nobody-listens.sock", "-e", "tls_renew_days=100"
    )
    assert rc != 0, out[-3000:]
    assert "the site failed its health check through Nginx (GET /health: answered HTTP 502)" in out, out[-3000:]
    assert "reloaded with them: the site answers again" in out, out[-3000:]
    assert host.file(SITE).content_string == before
    # Taken over, then released although the run failed.
    assert not host.file(LOCK).exists
    assert "RUNNING HANDLER [pydeploy.wsgi.nginx : Reload Nginx]" in out, out[-3000:]
    assert served_fingerprint(host) != certificate
    assert served_fingerprint(host) == served_fingerprint(host, "/etc/ssl/pydeploy/localhost.crt")
    assert http.json("https://localhost/health") == {"status": "healthy"}
    no_leftovers(host)
    still_serves_after_restarts(host, http)


def test_a_snippet_nginx_refuses_is_put_back_while_the_site_serves(host, http, capsys):
    # nginx_snippets that break none of the role's guarantees, so its checks
    # pass, but that nginx -t refuses (a size Nginx cannot read): the
    # previous files are put back before Nginx reloads, and a request stream
    # through Nginx meanwhile sees every answer.
    snippets = {"nginx_snippets": {"server": "add_header X-Snippet-Probe yes always;", "locations": {"/": "proxy_buffer_size sixteen;"}}}
    rc, out, watched = run_watched([name_of(host)], lambda one: one.file(SITE).content_string, "site.yml", "--tags", "nginx", "-e", json.dumps(snippets))
    answers, before, after = watched[name_of(host)]
    assert rc != 0, out[-3000:]
    flat = " ".join(out.split())
    assert f"The Nginx configuration of {APP} was not applied: nginx -t said:" in flat, out[-3000:]
    assert '"proxy_buffer_size" directive invalid value' in flat, out[-3000:]
    assert "The files on disk were put back and the running Nginx keeps its previous configuration." in flat, out[-3000:]
    assert after == before and "X-Snippet-Probe" not in after
    failed = [answer for answer in answers if not answer.endswith(" 200")]
    with capsys.disabled():
        print(f"\n  a snippet nginx -t refuses: {len(answers)} requests, {len(failed)} failed, {retried(answers)} sent again after a GOAWAY")
    assert answers and not failed, failed[:5]
    assert "x-snippet-probe" not in http.get("https://localhost/")[1]
    no_leftovers(host)
    still_serves_after_restarts(host, http)


def test_second_run_waits_for_the_lock_then_fails_naming_the_holder(host, http):
    holder = {"id": "ci-runner-7:4242:1", "controller": "ci-runner-7", "pid": 4242, "user": "deployer", "since": "2026-11-26T08:00:00Z"}
    plant_lock(host, holder)
    try:
        rc, out = run_playbook("site.yml", "--tags", "gunicorn", "-e", "pydeploy_lock_timeout=4")
        assert rc != 0, out[-3000:]
        assert (
            f"Another run of the playbooks holds {LOCK} on this host: deployer@ci-runner-7 "
            "(ansible-playbook process 4242, since 2026-11-26T08:00:00Z). Waited 4 s"
        ) in " ".join(out.split()), out[-3000:]
        assert changed_count(out) == 0
        assert json.loads(host.file(LOCK).content_string) == holder
    finally:
        host.check_output(f"rm -f {LOCK}")
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_login_account_is_refused_as_the_app_user(host, http):
    host.check_output("id pydeploy-alice || useradd --create-home --shell /bin/bash pydeploy-alice")
    try:
        rc, out = run_playbook("site.yml", "-e", "pydeploy_app_user=pydeploy-alice")
        assert rc != 0, out[-3000:]
        flat = " ".join(out.split())
        assert "app_user (pydeploy_app_user): pydeploy-alice is an existing account with uid" in flat, out[-3000:]
        assert "login shell /bin/bash" in flat
        assert changed_count(out) == 0
        assert host.user("pydeploy-alice").shell == "/bin/bash"
    finally:
        host.check_output("userdel --remove pydeploy-alice")
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_service_account_and_shared_group_are_refused_before_any_change(host, http):
    # A system service's account (no login shell, but not made for this app)
    # and a group with members of its own: the app would take them over.
    host.check_output(
        "id pydeploy-svc || useradd --system --shell /usr/sbin/nologin --comment 'Some service' pydeploy-svc; "
        "getent group pydeploy-staff || groupadd pydeploy-staff; "
        "id pydeploy-bob || useradd --no-create-home --shell /usr/sbin/nologin --groups pydeploy-staff pydeploy-bob"
    )
    try:
        rc, out = run_playbook("site.yml", "-e", "pydeploy_app_user=pydeploy-svc", "-e", "app_group=pydeploy-staff")
        assert rc != 0, out[-3000:]
        flat = " ".join(out.split())
        assert "app_user (pydeploy_app_user): pydeploy-svc is an existing account that this role did not make for hello" in flat, out[-3000:]
        assert "(its comment is Some service, not hello app)" in flat, out[-3000:]
        assert "app_group: pydeploy-staff is an existing group" in flat, out[-3000:]
        assert "own: members pydeploy-bob" in flat
        assert changed_count(out) == 0
        assert host.user("pydeploy-svc").group == "pydeploy-svc"
        assert not host.file("/var/log/hello").user == "pydeploy-svc"
    finally:
        host.check_output("userdel pydeploy-svc; userdel pydeploy-bob; groupdel pydeploy-staff")
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_failed_build_leaves_the_environment_in_use(host, http):
    before, pid = host.file(ENV).sha256sum, main_pid(host)
    rc, out = run_playbook(
        "site.yml", "--tags", "app",
        "-e", '{"app_env": {"NEW_SETTING": "new"}, "app_pip_packages": ["pydeploy-no-such-package==1.0"]}',
    )
    assert rc != 0, out[-3000:]
    assert "pydeploy-no-such-package" in out, out[-3000:]
    assert host.file(ENV).sha256sum == before
    assert main_pid(host) == pid
    no_leftovers(host)
    # Restarted, the service still runs with the settings it had.
    host.check_output(f"systemctl restart {APP}.service")
    assert "NEW_SETTING" not in master_env(host)
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_config_written_but_not_applied_is_applied_by_the_next_run(host, http):
    # Cut short after Gunicorn's configuration is written and tried, before
    # the reload: the next run reloads (new workers, the same master).
    gunicorn = ["--tags", "gunicorn", "-e", "gunicorn_timeout=31"]
    rc, out = run_playbook("site.yml", *gunicorn, interrupt_at="Reload, new workers, running requests finishing, Gunicorn")
    assert rc != 0 and "INTERRUPTING before" in out, out[-3000:]
    assert "timeout = 31" in host.file(CONF).content_string
    pid, workers = main_pid(host), worker_pids(host)
    rc, out = run_playbook("site.yml", *gunicorn)
    assert rc == 0, out[-3000:]
    assert main_pid(host) == pid
    assert set(worker_pids(host)).isdisjoint(workers)
    # Cut short after Nginx's files are written, before the reload.
    header = ["--tags", "nginx", "-e", '{"nginx_extra_headers": {"X-Pydeploy-Run": "completed"}}']
    rc, out = run_playbook("site.yml", *header, interrupt_at="Reload, open connections finishing, Nginx")
    assert rc != 0 and "INTERRUPTING before" in out, out[-3000:]
    _, headers, _ = http.get("https://localhost/health")
    assert "x-pydeploy-run" not in headers
    rc, out = run_playbook("site.yml", *header)
    assert rc == 0, out[-3000:]
    _, headers, _ = http.get("https://localhost/health")
    assert headers.get("x-pydeploy-run") == "completed"


def test_switch_interrupted_before_the_restart_is_completed_by_the_next_run(host, http):
    # The new environment is in place, the service not restarted yet.
    extra = json.dumps({"app_env": {"APP_VERSION": "1.0.0-demo", "TRUSTED_PROXY_HOPS": "1", "AWKWARD": AWKWARD}})
    pid = main_pid(host)
    rc, out = run_playbook("site.yml", "--tags", "app", "-e", extra, interrupt_at="Have the server serve release")
    assert rc != 0 and "INTERRUPTING before" in out, out[-3000:]
    assert main_pid(host) == pid
    assert "AWKWARD" in host.file(ENV).content_string
    rc, out = run_playbook("site.yml", "--tags", "app", "-e", extra)
    assert rc == 0, out[-3000:]
    assert changed_count(out) > 0
    # The running master, not only the file, has the new settings.
    assert main_pid(host) != pid
    assert master_env(host)["AWKWARD"] == AWKWARD
    assert http.json("https://localhost/health") == {"status": "healthy"}
    no_leftovers(host)


def test_environment_file_reads_back_the_same_in_the_release_wsgi_script(host):
    # The parser of .pydeploy/app.wsgi (mod_wsgi's way in), run on the file
    # the previous test left: the same values systemd gave the service.
    script = host.file(f"/srv/{APP}/current/.pydeploy/app.wsgi").content_string
    functions = [node for node in ast.parse(script).body if isinstance(node, ast.FunctionDef)]
    parser = ast.unparse(ast.Module(body=functions, type_ignores=[]))
    program = f"import json, pathlib\n{parser}\nprint(json.dumps(_read_env_file(pathlib.Path({ENV!r}))))"
    values = json.loads(host.check_output(f"python3 -c {shlex.quote(program)}"))
    env = master_env(host)
    assert values["AWKWARD"] == AWKWARD
    for name in ("AWKWARD", "APP_VERSION", "SECRET_KEY"):
        assert values[name] == env[name], name


