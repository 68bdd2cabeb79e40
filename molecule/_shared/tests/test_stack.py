"""What a client sees of any stack (front end + app server), whichever it is.

Shared by the scenarios of each pair (molecule.yml: additional_files_or_dirs):
nginx + gunicorn (default), apache + mod_wsgi and apache + gunicorn (apache),
nginx + uwsgi (uwsgi), and both front ends on Debian 13 (debian13).
Each test asks the host's inventory which stack it runs, and checks the same
behaviour through it: HTTPS with Mozilla's intermediate profile, redirects
(to HTTPS, and the site's other names to its canonical one), basic auth,
security headers, the operator's snippets, static files from the front end, uploads written by
the app and served by the front end, body limits, unknown
names refused, what the app learns of the client. The scenario's
tests/conftest.py (a link to the default scenario's) is imported by pytest
before this file; its fixtures do not reach here, its helpers do.
"""

import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
import uuid

import pytest
from conftest import Http

APP = "hello"
CA = "/etc/ssl/pydeploy/pydeploy-ca.crt"
README = pathlib.Path(__file__).resolve().parents[3] / "README.md"


class Stack(Http):
    """The host's stack, from its inventory, and where each part logs; its
    requests are curl's, inside the host (conftest.Http)."""

    def __init__(self, host):
        super().__init__(host)
        variables = host.ansible.get_variables()
        self.front_end = variables.get("pydeploy_front_end", "nginx")
        self.app_server = variables.get("pydeploy_app_server", "gunicorn")
        self.https_port = int(variables.get("test_https_port", 18443))
        self.log_destination = variables.get("pydeploy_log_destination", "file")
        self.app_log = variables.get("app_env", {}).get("APP_LOG_FILE")
        self.trusted_proxies = variables.get("pydeploy_trusted_proxies", [])
        self.rate_limited = variables.get("nginx_rate_limit_locations", []) if self.front_end == "nginx" else []

    def basic_auth_user(self):
        """(name, password) of the first user of pydeploy_basic_auth, a vault
        variable it names read from the inventory too."""
        variables = self.host.ansible.get_variables()
        user = variables["pydeploy_basic_auth"]["users"][0]
        password = user["password"]
        named = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", password)
        if named:
            password = variables[named.group(1)]
        assert password and "{{" not in password, password
        return user["name"], password

    @property
    def server_header(self):
        return {"nginx": "nginx", "apache": "Apache"}[self.front_end]

    def front_end_log(self):
        path = {"nginx": f"/var/log/nginx/{APP}.access.log", "apache": f"/var/log/apache2/{APP}.access.log"}[self.front_end]
        return self.host.file(path).content_string

    def logged_client(self, marker):
        """The client address the front end's access log gives the request
        whose URL holds marker (plain: the line's first field; json: client)."""
        lines = [line for line in self.front_end_log().splitlines() if marker in line]
        assert len(lines) == 1, lines
        return json.loads(lines[0])["client"] if lines[0].startswith("{") else lines[0].split()[0]

    def app_saw(self, marker):
        """Whether the app itself handled a request whose URL holds marker."""
        if self.app_server in ("gunicorn", "uwsgi"):
            if self.log_destination == "journal":
                return marker in self.host.check_output(f"journalctl -u {APP}.service --no-pager -o cat")
            log = {"gunicorn": "access.log", "uwsgi": "uwsgi.log"}[self.app_server]
            return marker in self.host.file(f"/var/log/{APP}/{log}").content_string
        # Inside Apache: the app's own log (APP_LOG_FILE, which the mod_wsgi
        # hosts set), a line a request it handled. Apache's access log names
        # the handler the URL maps to, not whether it ran: a 401 before the
        # app says wsgi-script.
        assert self.app_log, "a mod_wsgi host of the test bed sets APP_LOG_FILE in app_env"
        return marker in self.host.file(self.app_log).content_string


@pytest.fixture
def stack(host):
    return Stack(host)


def test_https_serves_the_app_page(stack):
    status, headers, body = stack.get("https://localhost/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "<h1>Hello from pydeploy.wsgi</h1>" in body
    assert '<dd id="scheme">https</dd>' in body
    assert stack.json("https://localhost/health") == {"status": "healthy"}


def test_http_redirects_to_https_keeping_path_and_query(stack):
    status, headers, _ = stack.get("http://localhost/some/page?q=1&lang=en")
    assert status == 301
    assert headers["location"] == "https://localhost/some/page?q=1&lang=en"


def test_the_sites_other_names_redirect_to_its_canonical_name_keeping_path_and_query(host, stack):
    # pydeploy_canonical_name: localhost, of [localhost, www.localhost,
    # 127.0.0.1]. www.localhost is on the certificate and answers HTTPS with
    # a permanent redirect to localhost, path and query kept, with HSTS for
    # its own name; the app never sees it.
    probe = uuid.uuid4().hex
    www = ("--resolve", "www.localhost:443:127.0.0.1", "--resolve", "www.localhost:80:127.0.0.1")
    status, headers, _ = stack.get(f"https://www.localhost/some/page?probe={probe}&lang=en", *www)
    assert status == 301, headers
    assert headers["location"] == f"https://localhost/some/page?probe={probe}&lang=en"
    assert headers["strict-transport-security"].startswith("max-age="), headers
    assert not stack.app_saw(probe)
    verified = host.run(
        f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 --cacert {CA} {' '.join(www)} https://www.localhost/"
    )
    assert verified.stdout == "301", (verified.stdout, verified.stderr)
    # Plain HTTP goes to HTTPS on the name asked for first: the browser
    # learns HSTS for that name too (as HSTS preload lists require).
    status, headers, _ = stack.get("http://www.localhost/a?b=1", *www)
    assert (status, headers["location"]) == (301, "https://www.localhost/a?b=1")
    # The canonical name and the address are the site (asked for by the
    # name's SNI: Apache answers a request without SNI from its default
    # virtual host, and one for another name there with 421).
    for name in ("localhost", "127.0.0.1"):
        assert stack.json("https://localhost/health", "-H", f"Host: {name}") == {"status": "healthy"}


def test_basic_auth_asks_for_a_user_on_its_location_and_below_it_only(host, stack):
    # pydeploy_basic_auth: /admin/, realm "hello admin", a user from the
    # inventory (the demo's vault). The front end answers 401 before the app
    # sees the request, and lets the user through with the right password.
    name, password = stack.basic_auth_user()
    probe = uuid.uuid4().hex
    status, headers, _ = stack.get(f"https://localhost/admin/?probe={probe}")
    assert status == 401 and headers["www-authenticate"] == 'Basic realm="hello admin"', (status, headers)
    assert not stack.app_saw(probe)
    assert stack.get("https://localhost/admin/", "-u", f"{name}:{password}x")[0] == 401
    assert stack.json("https://localhost/admin/", "-u", f"{name}:{password}") == {"page": "admin", "user": name}
    # Below it, and the same path written otherwise (a %-escape, a dot segment): asked.
    for path in ("/admin/users", "/%61dmin/", "/static/../admin/"):
        assert stack.get(f"https://localhost{path}", "--path-as-is")[0] == 401, path
    # The rest of the site and the health check: no user asked.
    for path, expected in (("/", 200), ("/health", 200), ("/administrator", 404)):
        assert stack.get(f"https://localhost{path}")[0] == expected, path
    # The users' file: root's, the front end's group reads it, hashes only.
    folder = {"nginx": "/etc/nginx", "apache": "/etc/apache2"}[stack.front_end]
    users = host.file(f"{folder}/pydeploy-{APP}.htpasswd")
    assert (users.user, users.group, users.mode) == ("root", "www-data", 0o640)
    assert users.content_string.startswith(f"{name}:$6$") and password not in users.content_string


def test_only_tls_1_2_and_1_3_are_offered(host):
    for version, accepted in (("-tls1_1", False), ("-tls1_2", True), ("-tls1_3", True)):
        out = host.run(f"echo | openssl s_client -connect localhost:443 -servername localhost {version}")
        assert (out.rc == 0) == accepted, (version, out.stdout[-300:])


def test_tls_passes_sslyze_mozilla_intermediate(host, stack, tmp_path, capsys):
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(host.file(CA).content_string)
    target = f"localhost:{stack.https_port}"
    cmd = [str(pathlib.Path(sys.executable).parent / "sslyze"), "--mozilla_config=intermediate",
           f"--certinfo_ca_file={ca_file}", f"{target}{{127.0.0.1}}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    out = result.stdout + result.stderr
    verdict = re.search(rf"^\s*{target}: (.*)$", out, re.M)
    with capsys.disabled():
        print(f"\n  sslyze --mozilla_config=intermediate ({stack.front_end}): {verdict.group(1) if verdict else out[-500:]}")
    assert result.returncode == 0, out[-3000:]
    assert verdict and verdict.group(1) == "OK - Compliant.", out[-3000:]


def test_security_headers_on_a_page_a_static_file_and_a_404(stack):
    for url in ("https://localhost/", "https://localhost/static/css/style.css", "https://localhost/nothing-here"):
        _, headers, _ = stack.get(url)
        assert headers["strict-transport-security"] == "max-age=63072000", url
        assert headers["x-content-type-options"] == "nosniff", url
        assert headers["x-frame-options"] == "DENY", url
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin", url
        # No version, no OS.
        assert headers["server"] == stack.server_header, url


def test_static_files_come_from_the_front_end_with_cache_headers(stack):
    probe = uuid.uuid4().hex
    status, headers, body = stack.get(f"https://localhost/static/css/style.css?probe={probe}", "--compressed")
    assert status == 200
    assert headers["content-type"].startswith("text/css")
    assert re.search(r"max-age=\d{4,}", headers["cache-control"])
    assert "expires" in headers
    assert "font-family" in body
    # A proxied request reaches the app; the static one never does.
    proxied = uuid.uuid4().hex
    stack.get(f"https://localhost/whoami?probe={proxied}")
    assert stack.app_saw(proxied)
    assert not stack.app_saw(probe)


def test_the_operators_snippets_are_in_force_at_each_level(host, stack):
    # nginx_snippets / apache_snippets of the inventory, in the front end's
    # own words: a robots header that one crawler it names passes (Nginx:
    # a map at http level read by a header at server level; Apache: server
    # level), and /static/ for the site's own pages only (a location's
    # snippet: hotlink protection), refused before the front end reads a file.
    assert stack.get("https://localhost/")[1]["x-robots-tag"] == "noindex, nofollow"
    assert stack.get("https://localhost/", "-A", "GoodBot/2.1")[1]["x-robots-tag"] == "all"
    css = "https://localhost/static/css/style.css"
    assert stack.get(css)[0] == 200
    assert stack.get(css, "-e", "https://localhost/some/page")[0] == 200
    assert stack.get(css, "-e", f"https://localhost:{stack.https_port}/")[0] == 200
    assert stack.get(css, "-e", "https://hotlinker.example/page")[0] == 403
    # The app's pages are not the snippet's: any referrer gets them.
    assert stack.get("https://localhost/", "-e", "https://hotlinker.example/page")[0] == 200
    # Where each went: in the site's file, once.
    site = {"nginx": f"/etc/nginx/sites-available/{APP}.conf", "apache": f"/etc/apache2/sites-available/{APP}.conf"}[stack.front_end]
    written = host.file(site).content_string
    levels = ("http", "server", 'locations["/static/"]') if stack.front_end == "nginx" else ("server", "locations")
    for level in levels:
        assert written.count(f"# {stack.front_end}_snippets.{level}") == 1, (level, written)


def test_a_file_uploaded_through_the_app_is_served_by_the_front_end(host, stack):
    # The app writes into its shared folder marked served (app_shared_dirs:
    # uploads, served: true; UPLOAD_FOLDER), the front end serves it at
    # /uploads/ (a static location on that folder), and no one else reads it.
    folder = f"/srv/{APP}/shared/uploads"
    assert host.file(folder).user == APP and host.file(folder).group == "www-data"
    assert host.file(folder).mode == 0o2750
    probe = uuid.uuid4().hex
    content = f"uploaded {probe}"
    host.check_output(f"printf %s {shlex.quote(content)} > /tmp/{probe}.txt")
    status, _, body = stack.get(f"https://localhost/upload?probe={probe}", "-F", f"file=@/tmp/{probe}.txt;filename=notes-{probe}.txt")
    host.run(f"rm -f /tmp/{probe}.txt")
    assert status == 201, body
    url = json.loads(body)["url"]
    assert url == f"/uploads/notes-{probe}.txt"
    status, headers, body = stack.get(f"https://localhost{url}")
    assert status == 200, body
    assert body == content
    # The front end answered from the folder: the app saw the upload, not the fetch.
    assert stack.app_saw(f"upload?probe={probe}") and not stack.app_saw(f"/uploads/notes-{probe}.txt")
    written = host.file(f"{folder}/notes-{probe}.txt")
    assert (written.user, written.group) == (APP, "www-data")
    assert written.mode & 0o040 and not written.mode & 0o007, oct(written.mode)
    # Anyone else on the host: neither the folder nor the file.
    other = host.run(f"setpriv --reuid=nobody --regid=nogroup --clear-groups -- cat {folder}/notes-{probe}.txt")
    assert other.rc != 0 and "Permission denied" in other.stderr, (other.rc, other.stdout, other.stderr)
    host.run(f"rm -f {folder}/notes-{probe}.txt")


def test_app_sees_https_and_the_real_client_address(host, stack):
    # Connect to the host's own network address, so the client address
    # differs from loopback; forged X-Forwarded-* headers must not win.
    address = host.check_output("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1")
    seen = stack.json(
        "https://localhost/whoami",
        "--resolve", f"localhost:443:{address}",
        "-H", "X-Forwarded-For: 203.0.113.7",
        "-H", "X-Forwarded-Host: evil.example",
        # The app is not served under a prefix: a client's must not count.
        "-H", "X-Forwarded-Prefix: /evil",
    )
    assert seen["scheme"] == "https"
    assert seen["remote_addr"] == address
    assert seen["url"] == "https://localhost/whoami"


def test_a_forwarded_client_address_is_believed_from_a_trusted_proxy_only(host, stack):
    # pydeploy_trusted_proxies: [127.0.0.1] where a scenario sets it (a
    # proxy on the host, a tunnel say); none in the demo. From a client that
    # is no trusted proxy (the host's own network address), X-Forwarded-For
    # changes nothing; from a trusted one, the client is the last address of
    # it that is none of theirs: in the front end's log and in the app.
    address = host.check_output("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1")
    forwarded = ("-H", "X-Forwarded-For: 198.51.100.4, 203.0.113.7, 127.0.0.1")
    probe = uuid.uuid4().hex
    seen = stack.json(f"https://localhost/whoami?probe={probe}", "--resolve", f"localhost:443:{address}", *forwarded)
    assert (seen["remote_addr"], stack.logged_client(probe)) == (address, address)
    probe = uuid.uuid4().hex
    seen = stack.json(f"https://localhost/whoami?probe={probe}", *forwarded)
    client = "203.0.113.7" if "127.0.0.1" in stack.trusted_proxies else "127.0.0.1"
    assert (seen["remote_addr"], stack.logged_client(probe)) == (client, client)
    if "/login" not in stack.rate_limited:
        return
    # The rate limit's buckets (5r/s, burst 10) are the same clients': a
    # client elsewhere gets no bucket of its own from a forged address a
    # request, and from the trusted proxy one forwarded client's burst leaves
    # the next one's request through.
    if "127.0.0.1" in stack.trusted_proxies:
        def codes(*args, count=20):
            curl = shlex.join(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}\\n", "--max-time", "5", *args])
            return host.check_output(f"for i in $(seq {count}); do {curl}; done").split()

        burst = codes("-H", "X-Forwarded-For: 203.0.113.50", "https://localhost/login")
        assert "429" in burst and burst[0] == "200", burst
        assert codes("-H", "X-Forwarded-For: 203.0.113.51", "https://localhost/login", count=1) == ["200"]
    forged = host.check_output(
        f"for i in $(seq 20); do curl -sk -o /dev/null -w '%{{http_code}}\\n' --max-time 5 --resolve localhost:443:{address}"
        " -H \"X-Forwarded-For: 203.0.113.$i\" https://localhost/login; done"
    ).split()
    assert "429" in forged and forged[0] == "200", forged


def h2_post_status(port, path, size):
    """POSTs `size` bytes over HTTP/2 from the controller to 127.0.0.1:port,
    sending what flow control allows before the answer; returns its status
    (None if the stream ended without one). curl 7.88 drops an answer that
    comes with a stream reset before the upload ends (RFC 9113 8.1 allows
    it, and Apache does it); browsers keep it, and so does this."""
    import socket
    import ssl

    import h2.config
    import h2.connection
    import h2.events

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a loopback port the test published; only the status matters
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, context.wrap_socket(
        raw, server_hostname="localhost"
    ) as tls:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        headers = [(":method", "POST"), (":path", path), (":scheme", "https"), (":authority", "localhost"),
                   ("content-length", str(size))]
        conn.send_headers(1, headers)
        conn.send_data(1, b"\0" * min(16000, size))
        tls.sendall(conn.data_to_send())
        for _ in range(100):
            data = tls.recv(65535)
            if not data:
                return None
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    return int(dict(event.headers)[b":status"])
                if isinstance(event, (h2.events.StreamReset, h2.events.StreamEnded)):
                    return None
            tls.sendall(conn.data_to_send())
    return None


def test_oversize_body_gets_413_before_reaching_the_app(host, stack):
    # The scenarios' inventories allow 1m: 2 MB is refused by the front end,
    # over HTTP/1.1 and over HTTP/2.
    marker = uuid.uuid4().hex
    out = host.check_output(
        "head -c 2000000 /dev/zero > /tmp/big.bin && "
        f"curl -sk --http1.1 -o /dev/null -w '%{{http_code}}' -X POST --data-binary @/tmp/big.bin 'https://localhost/login?m={marker}'; "
        "rm -f /tmp/big.bin"
    )
    assert out == "413"
    assert h2_post_status(stack.https_port, f"/login?m={marker}-h2", 2_000_000) == 413
    # A small one reaches the app, which refuses the login itself.
    small = host.check_output(
        f"curl -sk -o /dev/null -w '%{{http_code}}' -X POST --data-binary 'x=1' 'https://localhost/login?m={marker}-small'"
    )
    assert small == "401"
    assert stack.app_saw(f"{marker}-small")
    assert not stack.app_saw(marker + " ") and not stack.app_saw(f"{marker}-h2")


def test_unknown_host_names_are_refused(host, stack):
    # A known TLS name with a forged Host, an unknown TLS name, a forged Host
    # over HTTP: Nginx closes the connection unanswered (444), Apache answers
    # 421 Misdirected Request; the app never sees them.
    marker = uuid.uuid4().hex
    tries = [
        ["--http1.1", "-H", "Host: evil.example", f"https://localhost/?m={marker}"],
        ["--resolve", "evil.example:443:127.0.0.1", f"https://evil.example/?m={marker}"],
        ["-H", "Host: evil.example", f"http://127.0.0.1/?m={marker}"],
    ]
    for args in tries:
        out = host.run(shlex.join(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", *args]))
        if stack.front_end == "nginx":
            assert out.stdout == "000", (args, out.rc, out.stdout)
        else:
            assert out.stdout == "421", (args, out.rc, out.stdout)
    assert not stack.app_saw(marker)
    cert = host.check_output(
        "echo | openssl s_client -connect 127.0.0.1:443 -servername evil.example 2>/dev/null | openssl x509 -noout -subject"
    )
    # OpenSSL 3.0 prints "CN = invalid", 3.5 (Debian 13) "CN=invalid".
    assert cert.replace(" ", "").endswith("CN=invalid"), cert
    # The known names still work.
    assert host.check_output("curl -s -o /dev/null -w '%{http_code}' http://localhost/") == "301"


def test_health_check_is_not_access_logged_by_the_front_end(stack):
    probe = uuid.uuid4().hex
    assert stack.json(f"https://localhost/health?probe={probe}") == {"status": "healthy"}
    assert probe not in stack.front_end_log()


def test_env_file_holds_the_secret_and_is_not_world_readable(host):
    env = host.file(f"/etc/{APP}/env")
    assert env.user == "root"
    assert env.group == APP
    assert env.mode == 0o640
    # The secret itself is never printed: only its length is checked.
    length = host.check_output(f"sed -n 's/^SECRET_KEY=\"\\(.*\\)\"$/\\1/p' /etc/{APP}/env | tr -d '\\n' | wc -c")
    assert int(length) >= 32


def test_code_is_not_writable_by_the_app_user(host):
    for path in (f"/srv/{APP}/current/wsgi.py", f"/srv/{APP}/current/", f"/srv/{APP}/current/venv/bin", f"/srv/{APP}/releases"):
        assert host.run(f"runuser -u {APP} -- test -w {path}").rc != 0, path


def readme_host_versions():
    """The README's table of what runs on the hosts: {row: {Debian major: cell}}."""
    section = README.read_text().split("\n## Supported versions\n", 1)[1].split("\n## ", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in section.splitlines() if line.startswith("|")]
    header = next(row for row in rows if row[0] == "on the hosts")
    majors = [re.match(r"Debian (\d+) ", cell).group(1) for cell in header[1:]]
    body = rows[rows.index(header) + 2:]
    body = body[: next((i for i, row in enumerate(body) if len(row) != len(header)), len(body))]
    return {row[0]: dict(zip(majors, row[1:])) for row in body}


def test_the_host_runs_what_the_readme_says_is_supported(host, stack):
    table = readme_host_versions()
    major = host.file("/etc/debian_version").content_string.split(".")[0]
    assert major in table["Python"], f"Debian {major} is not in the README's table of supported versions"

    def minor(version):
        return ".".join(version.split(":")[-1].split(".")[:2])

    assert host.check_output("python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'") == table["Python"][major]
    front_end = {"nginx": ("Nginx", "nginx"), "apache": ("Apache", "apache2")}[stack.front_end]
    assert minor(host.package(front_end[1]).version) == table[front_end[0]][major]
    if stack.app_server == "mod_wsgi":
        assert minor(host.package("libapache2-mod-wsgi-py3").version) == table["mod_wsgi"][major]
    elif stack.app_server == "uwsgi":
        row = next(name for name in table if name.startswith("uWSGI"))
        assert minor(host.package("uwsgi-core").version) == table[row][major]
    else:
        gunicorn = re.search(r"[0-9.]+", host.check_output(f"/srv/{APP}/current/venv/bin/gunicorn --version")).group(0)
        row = next(name for name in table if name.startswith("Gunicorn"))
        assert minor(gunicorn) == table[row][major]
    assert os.environ["MOLECULE_SCENARIO_NAME"] in table["Molecule scenarios"][major]
