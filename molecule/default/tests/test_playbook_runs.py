"""Runs of playbooks/site.yml against the converged host, each limited
(--tags) to the roles the case is about.

- A value that passes the role's checks but not nginx -t leaves the running
  config, and the app keeps serving with the certificate it had.

Bad input (a variable of the wrong type or value, certificates that do not
fit tls_mode files) fails before the play touches any host: those cases run
on the controller, in tests/test_bad_input.py.
"""

import json
import os
import pathlib
import re

import pytest
import yaml
from conftest import APP, gunicorn_settings, make_certificate, run_playbook, served_fingerprint


@pytest.fixture(scope="module")
def served_before(host):
    """The certificate served before the first failed run of this module."""
    return served_fingerprint(host)


@pytest.mark.usefixtures("served_before")
def test_value_nginx_refuses_leaves_the_running_config(host, http):
    # Passes the role's checks, fails nginx -t: the site file is put back,
    # Nginx is never reloaded with it, and the play says why.
    site = "/etc/nginx/sites-available/hello.conf"
    before = host.file(site).content_string
    nginx_master = host.check_output("cat /run/nginx.pid")
    rc, out = run_playbook("site.yml", "--tags", "tls,nginx", "-e", "nginx_proxy_read_timeout=soon")
    assert rc != 0
    assert "The Nginx configuration of hello was not applied: nginx -t said:" in out, out[-2000:]
    # Nginx's complaint names the directive (nginx_proxy_read_timeout's).
    assert '"proxy_read_timeout" directive invalid value' in out, out[-2000:]
    assert host.file(site).content_string == before
    assert host.run("nginx -t").rc == 0
    assert host.check_output("cat /run/nginx.pid") == nginx_master
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_shared_settings_nginx_refuses_leave_every_file_and_a_restart_works(host, http):
    # A value for the settings every site shares (conf.d) that nginx -t
    # refuses: the shared file is put back, the site stays enabled, and a
    # restart of Nginx and of the app (a reboot, a package upgrade) still
    # serves.
    shared, link = "/etc/nginx/conf.d/pydeploy.conf", "/etc/nginx/sites-enabled/hello.conf"
    before = host.file(shared).content_string
    rc, out = run_playbook("site.yml", "--tags", "tls,nginx", "-e", '{"nginx_tls_curves": ["X25519", "bogus_curve"]}')
    assert rc != 0
    assert "The Nginx configuration of hello was not applied: nginx -t said:" in out, out[-2000:]
    assert host.file(shared).content_string == before
    assert host.file(link).is_symlink
    assert host.check_output("ls /etc/nginx/conf.d /etc/nginx/sites-available | grep -c '~$' || true") == "0"
    host.check_output(f"systemctl restart nginx {APP}.service")
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_a_write_that_fails_after_an_apply_in_the_same_play_is_told_as_such(host, http, tmp_path):
    # Issue 27: a failed write was told as what the front end's test or its
    # health check said (in a play that applies it twice, the first apply's
    # answers), the real error lost.
    # The second apply cannot write its files (their folder moved away).
    site, shared = "/etc/nginx/sites-available/hello.conf", "/etc/nginx/conf.d"
    root = os.environ["MOLECULE_PROJECT_DIRECTORY"]
    nginx = {"ansible.builtin.include_role": {"name": "pydeploy.wsgi.nginx", "tasks_from": "run"}}
    play = tmp_path / "twice.yml"
    play.write_text(yaml.safe_dump([{
        "name": "Apply Nginx twice",
        "hosts": "web",
        "become": True,
        "vars_files": [f"{root}/playbooks/vars/wiring.json"],
        "tasks": [
            {"name": "First apply, a header changed", **nginx, "vars": {"nginx_extra_headers": {"X-Applied": "twice"}}},
            {"name": "Move the shared settings' folder away", "ansible.builtin.command": f"mv {shared} {shared}.kept"},
            {"name": "Second apply", **nginx},
        ],
    }]))
    try:
        rc, out = run_playbook(str(play))
    finally:
        host.check_output(f"test -d {shared} || mv {shared}.kept {shared}")
    flat = re.sub(r"\s+", " ", out)
    assert rc != 0, out[-3000:]
    assert (
        "The Nginx configuration of hello was not applied: its files could not be written:"
        " Destination directory /etc/nginx/conf.d does not exist"
    ) in flat, out[-3000:]
    assert "nginx -t said" not in flat and "health check through Nginx" not in flat, out[-3000:]
    assert "keeps its previous configuration" in flat, out[-3000:]
    # The failed write applied nothing again: the first apply's files stand.
    assert re.search(r"Apply the previous files again\] \**\s+skipping:", out), out[-3000:]
    assert "X-Applied" in host.file(site).content_string
    rc, out = run_playbook("site.yml", "--tags", "nginx")
    assert rc == 0, out[-3000:]
    assert "X-Applied" not in host.file(site).content_string
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_app_still_serves_after_the_failed_run(http, host, served_before):
    assert http.json("https://localhost/health") == {"status": "healthy"}
    # Nginx still presents the certificate it had.
    assert served_fingerprint(host) == served_before


def test_extra_gunicorn_setting_arrives_as_its_python_value(host, http):
    # JSON true was written as `true` into gunicorn.conf.py: Gunicorn's master
    # died on a NameError while the play ended green.
    extra = '{"gunicorn_extra_settings": {"capture_output": true, "backlog": 512}}'
    rc, out = run_playbook("site.yml", "--tags", "gunicorn", "-e", extra)
    assert rc == 0, out[-3000:]
    settings = gunicorn_settings(host)
    assert settings["capture_output"] == "True"
    assert settings["backlog"] == "512"
    # Read by the running service, which restarts with it.
    host.check_output(f"systemctl restart {APP}.service")
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_gunicorn_setting_gunicorn_refuses_never_reaches_the_service(host, http):
    # Checked by Gunicorn itself (the release's venv) before the file is
    # replaced: the play fails naming the setting, the file and the service
    # stay as they were.
    conf = f"/etc/{APP}/gunicorn.conf.py"
    before, master = host.file(conf).content_string, host.check_output(f"systemctl show -p MainPID --value {APP}.service")
    for extra, named in (
        ('{"gunicorn_extra_settings": {"backlog": "lots"}}', "backlog = 'lots'"),
        ('{"gunicorn_extra_settings": {"no_such_setting": 1}}', "no_such_setting is not a Gunicorn setting"),
    ):
        rc, out = run_playbook("site.yml", "--tags", "gunicorn", "-e", extra)
        assert rc != 0, out[-3000:]
        assert named in out, out[-3000:]
        # The role's own failure, not a rescue tripping over a variable the
        # failed write never set.
        assert "is undefined" not in out and f"The Gunicorn configuration of {APP} was not applied: its files could not be written: failed to validate" in out, out[-3000:]
        assert host.file(conf).content_string == before
    assert host.check_output(f"systemctl show -p MainPID --value {APP}.service") == master
    host.check_output(f"systemctl restart {APP}.service")
    assert http.json("https://localhost/health") == {"status": "healthy"}


def test_a_ca_taken_off_python_ca_certificates_loses_the_hosts_trust(host, tmp_path):
    ca_path, _, _ = make_certificate(tmp_path, ["pydeploy test trust CA"], days=30, ca=True)
    # A line of the certificate's base64 body: what the bundle holds of it.
    body = pathlib.Path(ca_path).read_text().splitlines()[1]
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    installed = f"/usr/local/share/ca-certificates/pydeploy-{pathlib.Path(ca_path).stem}.crt"
    listed = {"python_ca_certificates": ["/etc/ssl/certs/ca-certificates.crt", ca_path]}
    rc, out = run_playbook("site.yml", "--tags", "python_ca", "-e", json.dumps(listed))
    assert rc == 0, out[-3000:]
    assert host.file(installed).exists and body in host.file(bundle).content_string
    # The inventory's list again: the CA leaves the folder and the bundle;
    # the one still listed stays.
    rc, out = run_playbook("site.yml", "--tags", "python_ca")
    assert rc == 0, out[-3000:]
    assert not host.file(installed).exists, installed
    assert body not in host.file(bundle).content_string
    assert host.file("/usr/local/share/ca-certificates/pydeploy-ca-certificates.crt").exists


def test_a_run_cut_before_the_trust_store_is_rebuilt_has_the_next_run_rebuild_it(host, tmp_path):
    ca_path, _, _ = make_certificate(tmp_path, ["pydeploy test cut CA"], days=30, ca=True)
    body = pathlib.Path(ca_path).read_text().splitlines()[1]
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    installed = f"/usr/local/share/ca-certificates/pydeploy-{pathlib.Path(ca_path).stem}.crt"
    listed = json.dumps({"python_ca_certificates": ["/etc/ssl/certs/ca-certificates.crt", ca_path]})
    # Cut after the certificate is copied, before the handler rebuilds the store.
    rc, out = run_playbook("site.yml", "--tags", "python_ca", "-e", listed, interrupt_at="Find the extra CA certificates installed before")
    assert rc != 0 and "INTERRUPTING before" in out, out[-3000:]
    assert host.file(installed).exists and body not in host.file(bundle).content_string
    rc, out = run_playbook("site.yml", "--tags", "python_ca", "-e", listed)
    assert rc == 0, out[-3000:]
    assert body in host.file(bundle).content_string, out[-3000:]
    # The same when the run that takes it off the list is cut: the store
    # stops trusting it at the next run.
    rc, out = run_playbook("site.yml", "--tags", "python_ca", interrupt_at="Find the extra CA certificates the trust store holds")
    assert rc != 0 and "INTERRUPTING before" in out, out[-3000:]
    assert not host.file(installed).exists and body in host.file(bundle).content_string
    rc, out = run_playbook("site.yml", "--tags", "python_ca")
    assert rc == 0, out[-3000:]
    assert body not in host.file(bundle).content_string, out[-3000:]
