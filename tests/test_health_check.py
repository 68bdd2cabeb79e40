"""The health check module (plugins/modules/health_check.py) on the
controller, against servers this test starts itself: HTTP on a Unix socket,
uWSGI's protocol on a Unix socket, HTTP and HTTPS on 127.0.0.1. Each case
runs the real module, as Ansible would on a host (its arguments as JSON on
stdin), so the scenarios need not spend a playbook run on what a module
answers: a healthy answer, a retry until healthy, the last bad answer named,
the certificate and TLS name held to the given CA, and input refused before
anything is sent.
"""

import http.server
import importlib.util
import json
import pathlib
import socketserver
import ssl
import subprocess
import sys
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODULE = ROOT / "plugins" / "modules" / "health_check.py"
# make_certificate() is the scenarios' helper.
_spec = importlib.util.spec_from_file_location("scenario_helpers", ROOT / "molecule" / "default" / "tests" / "conftest.py")
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


def run_module(**args):
    """The module's JSON answer for one call."""
    out = subprocess.run(
        [sys.executable, str(MODULE)],
        input=json.dumps({"ANSIBLE_MODULE_ARGS": args}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return json.loads(out.stdout)


class Answers:
    """What the test servers answer: `bad` answers of `bad_status` first,
    then 200; every request's path, Host and X-Forwarded-Proto recorded."""

    def __init__(self, bad=0, bad_status=503, body=b'{"status": "healthy"}'):
        self.bad, self.bad_status, self.body = bad, bad_status, body
        self.seen = []
        self.lock = threading.Lock()

    def next(self, path, headers):
        with self.lock:
            self.seen.append((path, headers.get("Host"), headers.get("X-Forwarded-Proto")))
            if self.bad > 0:
                self.bad -= 1
                return self.bad_status, b"not yet"
            return 200, self.body


def http_handler(answers):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            status, body = answers.next(self.path, self.headers)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        # BaseHTTPRequestHandler wants a (host, port) client address.
        return request, ("local", 0)


class UwsgiHandler(socketserver.BaseRequestHandler):
    """uWSGI's protocol as Nginx's uwsgi_pass speaks it: a 4-byte header
    (modifier1, size little-endian, modifier2), then the variables, each a
    2-byte length and bytes; the answer is plain HTTP."""

    def handle(self):
        header = self.read(4)
        size = int.from_bytes(header[1:3], "little")
        data, variables = self.read(size), {}
        position = 0
        while position < size:
            parts = []
            for _ in range(2):
                length = int.from_bytes(data[position : position + 2], "little")
                parts.append(data[position + 2 : position + 2 + length].decode("latin-1"))
                position += 2 + length
            variables[parts[0]] = parts[1]
        self.server.variables.append(variables)
        headers = {"Host": variables.get("HTTP_HOST"), "X-Forwarded-Proto": variables.get("HTTP_X_FORWARDED_PROTO")}
        status, body = self.server.answers.next(variables["REQUEST_URI"], headers)
        self.request.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))

    def read(self, size):
        data = b""
        while len(data) < size:
            chunk = self.request.recv(size - len(data))
            if not chunk:
                break
            data += chunk
        return data


@pytest.fixture
def serve(tmp_path):
    """serve(kind, answers) -> endpoint: a server of `kind` (unix, uwsgi,
    http, https) in a thread, stopped at the test's end."""
    servers = []

    def start(kind, answers, context=None):
        if kind in ("unix", "uwsgi"):
            path = str(tmp_path / f"{kind}-{len(servers)}.sock")
            if kind == "unix":
                server = UnixHTTPServer(path, http_handler(answers))
            else:
                server = socketserver.ThreadingUnixStreamServer(path, UwsgiHandler)
                server.daemon_threads = True
                server.variables = []
            endpoint = f"{kind}:{path}"
        else:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http_handler(answers))
            if context is not None:
                server.socket = context.wrap_socket(server.socket, server_side=True)
            endpoint = f"{kind}://127.0.0.1:{server.server_address[1]}"
        server.answers = answers
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return endpoint, server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", ["unix", "uwsgi", "http"])
def test_a_healthy_answer_passes_with_the_path_host_and_https_header(serve, kind):
    answers = Answers()
    endpoint, _ = serve(kind, answers)
    result = run_module(endpoint=endpoint, path="/health?probe=1", host="hello.test", timeout=5)
    assert result.get("failed") is not True, result
    assert (result["ok"], result["status"], result["reason"], result["changed"]) == (True, 200, "healthy", False)
    assert result["body"] == '{"status": "healthy"}'
    # One request, as a front end would send it: the app sees HTTPS.
    assert answers.seen == [("/health?probe=1", "hello.test", "https")]


def test_uwsgi_request_carries_what_nginx_uwsgi_params_would(serve):
    endpoint, server = serve("uwsgi", Answers())
    run_module(endpoint=endpoint, path="/health?x=1", host="hello.test", timeout=5)
    variables = server.variables[0]
    assert variables["REQUEST_METHOD"] == "GET"
    assert (variables["PATH_INFO"], variables["QUERY_STRING"]) == ("/health", "x=1")
    assert (variables["HTTPS"], variables["REQUEST_SCHEME"], variables["SERVER_NAME"]) == ("on", "https", "hello.test")


def test_bad_answers_are_retried_until_a_healthy_one(serve):
    answers = Answers(bad=2)
    endpoint, _ = serve("unix", answers)
    result = run_module(endpoint=endpoint, path="/health", timeout=20)
    assert result["ok"] is True, result
    assert len(answers.seen) == 3


def test_no_healthy_answer_fails_naming_the_last_one(serve):
    answers = Answers(bad=1000, bad_status=502)
    endpoint, _ = serve("http", answers)
    result = run_module(endpoint=endpoint, path="/health", timeout=1)
    assert result["failed"] is True and result["ok"] is False, result
    assert (result["status"], result["reason"], result["body"]) == (502, "answered HTTP 502", "not yet")
    assert result["msg"] == f"{endpoint} /health: answered HTTP 502"
    assert len(answers.seen) >= 2


def test_only_the_start_of_a_long_body_is_returned(serve):
    endpoint, _ = serve("unix", Answers(body=b"x" * 5000))
    result = run_module(endpoint=endpoint, path="/health", timeout=5)
    assert result["ok"] is True and result["body"] == "x" * 300


def test_nothing_listening_fails_saying_so(tmp_path):
    endpoint = f"unix:{tmp_path / 'nobody.sock'}"
    result = run_module(endpoint=endpoint, path="/health", timeout=1)
    assert result["failed"] is True and result["status"] is None, result
    assert result["reason"].startswith("no answer (FileNotFoundError"), result


@pytest.fixture
def tls(tmp_path):
    """A server certificate for hello.test signed by a CA of its own, and
    another CA: (server context, the CA file, the other CA file)."""
    ca_cert, _, ca = helpers.make_certificate(tmp_path, ["Health Test CA"], ca=True)
    cert, key, _ = helpers.make_certificate(tmp_path, ["hello.test"], issuer=ca)
    other_ca, _, _ = helpers.make_certificate(tmp_path, ["Other CA"], ca=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, ca_cert, other_ca


def test_https_passes_with_the_ca_and_the_name_of_the_certificate(serve, tls):
    context, ca_file, _ = tls
    answers = Answers()
    endpoint, _ = serve("https", answers, context)
    result = run_module(endpoint=endpoint, path="/health", host="hello.test", ca_file=ca_file, timeout=5)
    assert result["ok"] is True, result
    assert answers.seen == [("/health", "hello.test", "https")]


@pytest.mark.parametrize(
    ("case", "host", "ca"),
    [("another CA", "hello.test", "other"), ("a name the certificate does not cover", "evil.test", "own")],
)
def test_https_refuses_a_certificate_that_does_not_fit(serve, tls, case, host, ca):
    context, ca_file, other_ca = tls
    answers = Answers()
    endpoint, _ = serve("https", answers, context)
    result = run_module(endpoint=endpoint, path="/health", host=host, ca_file=other_ca if ca == "other" else ca_file, timeout=1)
    assert result["failed"] is True and result["status"] is None, (case, result)
    assert "SSLCertVerificationError" in result["reason"], (case, result)
    # The app never saw the request.
    assert answers.seen == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"endpoint": "ftp://127.0.0.1:21"}, "endpoint 'ftp://127.0.0.1:21': use unix:<socket>, uwsgi:<socket>"),
        ({"endpoint": "unix:relative.sock"}, "endpoint 'unix:relative.sock': use unix:<socket>"),
        ({"endpoint": "https://127.0.0.1:443"}, "ca_file is required for an https endpoint"),
        ({"endpoint": "http://127.0.0.1:9", "path": "health"}, "path 'health' must start with /"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(args, message):
    result = run_module(timeout=1, **args)
    assert result["failed"] is True, result
    assert result["msg"].startswith(message), result
    assert "status" not in result

