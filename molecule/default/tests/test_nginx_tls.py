"""Nginx in front of the app: Mozilla's TLS profile, security headers,
compression, limits and the default server, seen by a client."""

import re
import uuid

from conftest import sslyze

CA = "/etc/ssl/pydeploy/pydeploy-ca.crt"


def test_tls_passes_sslyze_mozilla_intermediate(host, tmp_path, capsys):
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(host.file(CA).content_string)
    rc, out = sslyze("localhost:18443{127.0.0.1}", ca_file, "intermediate")
    verdict = re.search(r"^\s*localhost:18443: (.*)$", out, re.M)
    with capsys.disabled():
        print(f"\n  sslyze --mozilla_config=intermediate: {verdict.group(1) if verdict else out[-500:]}")
    assert rc == 0, out[-3000:]
    assert verdict and verdict.group(1) == "OK - Compliant.", out[-3000:]


def test_certificate_is_signed_by_the_hosts_ca_and_expires_within_a_year(host):
    out = host.check_output(f"openssl verify -CAfile {CA} /etc/ssl/pydeploy/localhost.crt")
    assert out.endswith(": OK")
    days = host.check_output(
        "echo $(( ($(date -d \"$(openssl x509 -enddate -noout -in /etc/ssl/pydeploy/localhost.crt | cut -d= -f2)\" +%s)"
        " - $(date +%s)) / 86400 ))"
    )
    assert 80 <= int(days) <= 90
    assert host.file("/etc/ssl/pydeploy/private/pydeploy-ca.key").mode == 0o600


def test_https_answers_carry_the_security_headers(http):
    for url in ("https://localhost/", "https://localhost/static/css/style.css", "https://localhost/nothing-here"):
        _, headers, _ = http.get(url)
        assert headers["strict-transport-security"] == "max-age=63072000", url
        assert headers["x-content-type-options"] == "nosniff", url
        assert headers["x-frame-options"] == "DENY", url
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin", url
        # server_tokens off: no version.
        assert headers["server"] == "nginx", url


def test_static_files_are_compressed_and_cached(http):
    status, headers, _ = http.get("https://localhost/static/css/style.css", "--compressed")
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert re.fullmatch(r"max-age=\d+", headers["cache-control"])


def test_app_json_is_compressed_too(http):
    # gzip_min_length is 256 bytes: the page is bigger than that.
    _, headers, _ = http.get("https://localhost/", "--compressed")
    assert headers["content-encoding"] == "gzip"


def test_oversize_body_gets_413_before_reaching_the_app(host):
    # nginx_client_max_body_size is 1m in the demo inventory.
    marker = uuid.uuid4().hex
    out = host.check_output(
        "head -c 2000000 /dev/zero > /tmp/big.bin && "
        f"curl -sk -o /dev/null -w '%{{http_code}}' -X POST --data-binary @/tmp/big.bin 'https://localhost/login?m={marker}'; "
        "rm -f /tmp/big.bin"
    )
    assert out == "413"
    small = host.check_output(
        f"curl -sk -o /dev/null -w '%{{http_code}}' -X POST --data-binary 'x=1' 'https://localhost/login?m={marker}-small'"
    )
    assert small == "401"
    log = host.file("/var/log/hello/access.log").content_string
    assert f"{marker}-small" in log
    assert f"m={marker} " not in log


def burst(host, url, count=40):
    """`count` requests at once from inside the host; their status codes."""
    out = host.check_output(
        f"seq {count} | xargs -P {count} -I{{}} curl -sk --max-time 10 -o /dev/null -w '%{{http_code}}\\n' {url}"
    )
    return out.split()


def test_burst_beyond_the_rate_limit_gets_429(host, capsys):
    host.run("sleep 3")  # let the bucket drain from earlier tests
    codes = burst(host, "https://localhost/login")
    with capsys.disabled():
        print(f"\n  40 logins at once: {codes.count('200')} x 200, {codes.count('429')} x 429")
    assert set(codes) <= {"200", "429"}, codes
    # The burst (10) passes at once, the rest beyond 5 r/s is refused.
    assert codes.count("200") >= 10
    assert codes.count("429") >= 20
    # Other locations are not limited.
    assert set(burst(host, "https://localhost/whoami")) == {"200"}


def test_unknown_host_names_are_refused(host):
    # Known server name in TLS, forged Host header: no answer (444).
    forged = host.run("curl -sk --http1.1 -o /dev/null -w '%{http_code}' -H 'Host: evil.example' https://localhost/")
    assert forged.rc == 52 and forged.stdout == "000", (forged.rc, forged.stdout)
    # Unknown name in TLS (SNI) too: the default server's certificate, no answer.
    unknown = host.run("curl -sk -o /dev/null -w '%{http_code}' --resolve evil.example:443:127.0.0.1 https://evil.example/")
    assert unknown.rc != 0 and unknown.stdout == "000"
    cert = host.check_output(
        "echo | openssl s_client -connect 127.0.0.1:443 -servername evil.example 2>/dev/null | openssl x509 -noout -subject"
    )
    assert "CN = invalid" in cert
    plain = host.run("curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' http://127.0.0.1/")
    assert plain.rc == 52 and plain.stdout == "000"
    # The known names still work over both.
    assert host.check_output("curl -s -o /dev/null -w '%{http_code}' http://localhost/") == "301"


def test_health_location_is_not_access_logged(host, http):
    probe = uuid.uuid4().hex
    assert http.json(f"https://localhost/health?probe={probe}") == {"status": "healthy"}
    assert probe not in host.file("/var/log/nginx/hello.access.log").content_string
    assert probe in host.file("/var/log/hello/access.log").content_string


def test_upstream_keeps_connections_to_gunicorn_alive(host):
    site = host.file("/etc/nginx/sites-enabled/hello.conf").content_string
    assert re.search(r"upstream hello_app \{[^}]*keepalive 16;", site)
    assert 'proxy_set_header Connection "";' in site
