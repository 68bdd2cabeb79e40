"""What a user checks after deploying the example app with playbooks/site.yml."""

import re

from conftest import APP, gunicorn_settings, sandbox_exposure


def test_health_and_readiness(http):
    assert http.json("https://localhost/health") == {"status": "healthy"}
    assert http.json("https://localhost/ready")["status"] == "ready"


def test_gunicorn_runs_as_the_app_user_under_systemd(host):
    service = host.service(APP)
    assert service.is_enabled
    assert service.is_running
    assert host.service(f"{APP}.socket").is_enabled
    main_pid = host.check_output(f"systemctl show -p MainPID --value {APP}.service")
    pids = [main_pid] + host.check_output(f"pgrep -P {main_pid}").split()
    assert len(pids) >= 3, "a master and at least two workers"
    uid = host.user(APP).uid
    for pid in pids:
        status = host.file(f"/proc/{pid}/status").content_string
        assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s", status, re.M), pid


def test_socket_reachable_only_by_the_proxy(host):
    sock = host.file(f"/run/{APP}/gunicorn.sock")
    assert sock.is_socket
    assert sock.user == "www-data"
    assert sock.mode == 0o660


def test_nginx_config_passes_its_test(host):
    assert host.run("nginx -t").rc == 0
    assert host.service("nginx").is_enabled


def test_socket_and_service_are_enabled_and_active(host):
    for unit in (f"{APP}.socket", f"{APP}.service"):
        service = host.service(unit)
        assert service.is_enabled, unit
        assert service.is_running, unit


def test_service_sandbox_exposure_is_at_most_2(host, capsys):
    assert sandbox_exposure(host, f"{APP}.service", capsys) <= 2.0


def test_gunicorn_reads_the_rendered_settings(host):
    # What Gunicorn itself makes of the file, not only what the file says.
    settings = gunicorn_settings(host)
    expected = {
        "workers": "2", "worker_class": "sync", "threads": "1", "worker_connections": "1000",
        "timeout": "30", "graceful_timeout": "30", "keepalive": "2",
        "max_requests": "1000", "max_requests_jitter": "50", "preload_app": "False",
        "limit_request_line": "4094", "limit_request_fields": "100", "limit_request_field_size": "8190",
        "accesslog": f"/var/log/{APP}/access.log", "errorlog": f"/var/log/{APP}/error.log", "loglevel": "info",
        "wsgi_app": "wsgi:app", "proc_name": APP,
    }
    for name, value in expected.items():
        assert settings.get(name) == value, (name, settings.get(name))
    assert "%(D)s" in settings["access_log_format"]
    assert "127.0.0.1" in settings["forwarded_allow_ips"]


def test_killed_master_is_back_within_10_seconds(host, http, capsys):
    old = host.check_output(f"systemctl show -p MainPID --value {APP}.service")
    host.check_output(f"kill -9 {old}")
    # Polls /health once every 0.5 s for at most 10 s, inside the host.
    waited = host.check_output(
        "for i in $(seq 1 20); do sleep 0.5; "
        "curl -skf --max-time 2 -o /dev/null https://localhost/health && { echo $i; exit 0; }; done; echo never"
    )
    assert waited != "never", "the app did not answer within 10 s"
    with capsys.disabled():
        print(f"\n  after kill -9 of the master, the app answered again within {int(waited) * 0.5:.1f} s")
    new = host.check_output(f"systemctl show -p MainPID --value {APP}.service")
    assert new not in (old, "0")
    assert http.json("https://localhost/health") == {"status": "healthy"}
