"""The tls role's renewal script (roles/tls/files/usr/local/lib/pydeploy/tls-renew)
on the controller, with real certificates (openssl) and a real HTTPS front end
stood in by a local server: when a site is due, the host's CA signing anew,
the install that is checked and put back when the check fails, and the
certificate certbot obtained earlier installed by the next run. The acme
scenario runs it on real hosts against pebble, through its systemd unit."""

import datetime
import http.server
import json
import pathlib
import socket
import ssl
import subprocess
import threading

import host_scripts
import pytest

NAME = "www.example.test"



def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(folder):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "365",
            "-subj", "/CN=test CA", "-keyout", f"{folder}/ca.key", "-out", f"{folder}/ca.crt",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def make_csr(folder, names=(NAME,)):
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-subj", f"/CN={names[0]}", "-keyout", f"{folder}/site.key", "-out", f"{folder}/site.csr",
            "-addext", "subjectAltName=" + ",".join(f"DNS:{name}" for name in names))


def sign(folder, days, out="site.crt"):
    openssl("x509", "-req", "-in", f"{folder}/site.csr", "-CA", f"{folder}/ca.crt", "-CAkey", f"{folder}/ca.key",
            "-CAcreateserial", "-days", str(days), "-copy_extensions", "copyall", "-out", f"{folder}/{out}")


def serial(path):
    return subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", path], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def renew(tmp_path, monkeypatch):
    module = host_scripts.load_with_folders("roles/tls/files/usr/local/lib/pydeploy/tls-renew", "pydeploy_tls_renew", monkeypatch,
                                            CONFIG_DIR=tmp_path / "conf")
    monkeypatch.setattr(module, "CERTBOT_LIVE", str(tmp_path / "live"))
    make_ca(tmp_path)
    make_csr(tmp_path)
    module.reloads = []
    real_run = module.run

    def run(argv, what):
        # systemctl reload: recorded (the front end stood in reads the files anew on each connection).
        if argv[:2] == ["systemctl", "reload"]:
            module.reloads.append(argv[2])
            return ""
        return real_run(argv, what)

    monkeypatch.setattr(module, "run", run)
    real_subprocess_run = subprocess.run
    monkeypatch.setattr(module.subprocess, "run", lambda argv, **kw: (
        module.reloads.append(argv[2]) if argv[:2] == ["systemctl", "reload"] else real_subprocess_run(argv, **kw)))
    return module


class FrontEnd:
    """An HTTPS server on 127.0.0.1 presenting the site's certificate files as they are at each connection."""

    def __init__(self, folder, status=200):
        self.folder = folder
        self.status = status
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self.send_response(front.status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        plain_get_request = self.server.get_request

        def get_request():
            sock, address = plain_get_request()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(f"{folder}/site.crt", f"{folder}/site.key")
            return context.wrap_socket(sock, server_side=True), address

        self.server.get_request = get_request
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def front_end(tmp_path):
    sign(tmp_path, 90)
    server = FrontEnd(tmp_path)
    yield server
    server.close()


def site(tmp_path, server, **more):
    config = {
        "name": NAME, "mode": "selfsigned", "cert": f"{tmp_path}/site.crt", "key": f"{tmp_path}/site.key",
        "names": [NAME], "renew_days": 30, "acme": {},
        "selfsigned": {"csr": f"{tmp_path}/site.csr", "ca_cert": f"{tmp_path}/ca.crt", "ca_key": f"{tmp_path}/ca.key", "days": 90},
        "front_end": {"unit": "nginx.service", "test": ["true"],
                      "health": {"endpoint": f"https://127.0.0.1:{server.port}", "path": "/health", "host": NAME, "timeout": 3}},
    }
    config.update(more)
    (tmp_path / "conf" / f"{NAME}.json").write_text(json.dumps(config))
    return config


def test_a_certificate_far_from_expiry_is_left_alone(renew, tmp_path, front_end, capsys):
    site(tmp_path, front_end)
    before = serial(f"{tmp_path}/site.crt")
    assert renew.main(["tls-renew"]) == 0
    assert serial(f"{tmp_path}/site.crt") == before and renew.reloads == []
    assert f"{NAME}: not due (90 days left; renewed 30 days before expiry)" in capsys.readouterr().out


@pytest.mark.parametrize("why, setup", [
    ("days left, fewer than 30", lambda folder: sign(folder, 10)),
    ("the certificate does not cover new.example.test", None),
    ("no certificate is installed", lambda folder: pathlib.Path(folder, "site.crt").unlink()),
])
def test_a_due_certificate_is_signed_anew_installed_and_checked(renew, tmp_path, front_end, capsys, why, setup):
    names = [NAME, "new.example.test"] if setup is None else [NAME]
    if setup is None:
        # A request for more names (site.yml made it, with a new key); the
        # certificate served covers the old names.
        make_csr(tmp_path, names)
    else:
        setup(tmp_path)
    site(tmp_path, front_end, names=names)
    assert renew.main(["tls-renew", "--site", NAME]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert why in out and f"{NAME}: installed a new certificate" in out and "reloaded nginx.service" in out
    cert = renew.certificate(f"{tmp_path}/site.crt")
    assert 89 < renew.days_left(cert) <= 90 and set(names) <= cert["names"]
    assert renew.reloads == ["nginx.service"]
    subprocess.run(["openssl", "verify", "-CAfile", f"{tmp_path}/ca.crt", f"{tmp_path}/site.crt"], check=True, capture_output=True)
    assert oct(pathlib.Path(tmp_path, "site.key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("broken", ["test", "health"])
def test_a_failed_check_puts_the_previous_certificate_back(renew, tmp_path, front_end, capsys, broken):
    sign(tmp_path, 10)
    before = {name: pathlib.Path(tmp_path, name).read_bytes() for name in ("site.crt", "site.key")}
    config = site(tmp_path, front_end)
    if broken == "test":
        config["front_end"]["test"] = ["sh", "-c", "echo emerg: bad certificate >&2; exit 1"]
        site(tmp_path, front_end, front_end=config["front_end"])
    else:
        front_end.status = 502
    assert renew.main(["tls-renew"]) == 1
    err = capsys.readouterr().err
    assert "the previous certificate and key are back in place" in err
    assert ("emerg: bad certificate" in err) if broken == "test" else ("answered HTTP 502" in err)
    assert {name: pathlib.Path(tmp_path, name).read_bytes() for name in before} == before
    # Reloaded with the new files (health) and again with the old ones.
    assert renew.reloads == ([] if broken == "test" else ["nginx.service"]) + ["nginx.service"]


def test_a_ca_expiring_first_is_not_signed_with(renew, tmp_path, front_end, capsys):
    openssl("req", "-x509", "-key", f"{tmp_path}/ca.key", "-days", "20", "-subj", "/CN=test CA", "-out", f"{tmp_path}/ca.crt",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    sign(tmp_path, 10)
    site(tmp_path, front_end)
    assert renew.main(["tls-renew"]) == 1
    assert "expires before a new certificate would: run site.yml" in capsys.readouterr().err


def test_an_acme_certificate_obtained_but_not_installed_is_installed_by_the_next_run(renew, tmp_path, front_end, capsys, monkeypatch):
    live = tmp_path / "live" / NAME
    live.mkdir(parents=True)
    sign(tmp_path, 80)
    old = serial(f"{tmp_path}/site.crt")
    # What certbot left in its lineage: a newer certificate (same key here).
    sign(tmp_path, 90, out="live/" + NAME + "/fullchain.pem")
    (live / "privkey.pem").write_bytes((tmp_path / "site.key").read_bytes())
    site(tmp_path, front_end, mode="acme", acme={"directory": "https://acme.invalid/dir", "webroot": "/nonexistent",
                                                  "email": "", "key_type": "ECC", "key_size": 2048})
    monkeypatch.setattr(renew, "from_certbot", lambda _site: pytest.fail("no new order: the lineage has one"))
    assert renew.main(["tls-renew"]) == 0
    assert "installing the certificate certbot obtained earlier" in capsys.readouterr().out
    assert serial(f"{tmp_path}/site.crt") != old
    assert serial(f"{tmp_path}/site.crt") == serial(f"{live}/fullchain.pem")
    # Installed: the next run has nothing to do.
    assert renew.main(["tls-renew"]) == 0
    assert "not due" in capsys.readouterr().out


def test_certbot_is_asked_as_the_site_says(renew, tmp_path, front_end, monkeypatch):
    sign(tmp_path, 10)
    asked = []
    monkeypatch.setattr(renew, "run", lambda argv, what: asked.append(argv) or "")
    monkeypatch.setattr(renew, "install", lambda *args: None)
    site(tmp_path, front_end, mode="acme", names=[NAME, "example.test"],
         acme={"directory": "https://acme.example/dir", "webroot": "/var/lib/pydeploy/acme", "email": "ops@example.test",
               "key_type": "RSA", "key_size": 3072})
    assert renew.main(["tls-renew"]) == 0
    argv = asked[0]
    assert argv[:2] == ["certbot", "certonly"] and "--non-interactive" in argv and "--force-renewal" in argv
    pairs = list(zip(argv, argv[1:]))
    for pair in [("--server", "https://acme.example/dir"), ("--cert-name", NAME), ("--webroot-path", "/var/lib/pydeploy/acme"),
                 ("--email", "ops@example.test"), ("--key-type", "rsa"), ("--rsa-key-size", "3072"),
                 ("--domain", NAME), ("--domain", "example.test")]:
        assert pair in pairs, pair


def test_a_site_off_the_timer_is_renewed_by_the_playbook_alone(renew, tmp_path, front_end, capsys):
    sign(tmp_path, 10)
    before = serial(f"{tmp_path}/site.crt")
    site(tmp_path, front_end, timer=False)
    assert renew.main(["tls-renew"]) == 0
    assert "renewed by the playbook's runs alone" in capsys.readouterr().out
    assert serial(f"{tmp_path}/site.crt") == before
    # The playbook's run names the site.
    assert renew.main(["tls-renew", "--site", NAME]) == 0
    assert serial(f"{tmp_path}/site.crt") != before


def test_without_a_front_end_the_files_alone_are_replaced(renew, tmp_path, front_end, capsys):
    sign(tmp_path, 10)
    before = serial(f"{tmp_path}/site.crt")
    site(tmp_path, front_end, front_end={})
    assert renew.main(["tls-renew"]) == 0
    assert "(no front end named: none reloaded)" in capsys.readouterr().out
    assert serial(f"{tmp_path}/site.crt") != before and renew.reloads == []


def test_bad_arguments(renew):
    assert renew.main(["tls-renew", "--what"]) == 2
    assert renew.main(["tls-renew", "--site", "missing.example"]) == 2


def test_the_probe_trusts_the_certificate_as_it_is(renew, tmp_path, front_end):
    health = {"endpoint": f"https://127.0.0.1:{front_end.port}", "path": "/", "host": NAME}
    assert renew.probe(health, f"{tmp_path}/site.crt", 0) is None
    # Another name than the certificate's: refused.
    assert "CertificateError" in renew.probe({**health, "host": "other.example.test"}, f"{tmp_path}/site.crt", 0) or \
        "SSLCertVerificationError" in renew.probe({**health, "host": "other.example.test"}, f"{tmp_path}/site.crt", 0)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert "no answer" in renew.probe({**health, "endpoint": f"https://127.0.0.1:{port}"}, f"{tmp_path}/site.crt", 0)
    assert datetime.datetime.now(datetime.timezone.utc) < renew.certificate(f"{tmp_path}/site.crt")["not_after"]
