"""Helpers shared by the scenario's testinfra tests."""

import datetime
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import uuid

import pytest
import testinfra

APP = "hello"
EXAMPLE = pathlib.Path(__file__).resolve().parents[3] / "examples" / "flask_app"

# Each command a test runs on a host through one long-lived `docker exec` a
# host instead of one each (../../_shared/tests/docker_session.py).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "_shared" / "tests"))
import docker_session  # noqa: E402

docker_session.install()


class Http:
    """curl run inside the host: requests go through Nginx as a browser's would."""

    def __init__(self, host):
        self.host = host

    def get(self, url, *args):
        """Returns (status, headers as a lower-case dict, body) of one request."""
        body_file = f"/tmp/http-{uuid.uuid4().hex}"
        cmd = shlex.join(["curl", "-sk", "--max-time", "10", "-D", "-", "-o", body_file, *args, url])
        out = self.host.run(f"{cmd} && cat {body_file}; rm -f {body_file}")
        assert out.rc == 0, f"curl {url} failed: {out.stderr}"
        head, _, body = out.stdout.partition("\r\n\r\n")
        lines = head.split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        return int(lines[0].split()[1]), {k: ", ".join(v) for k, v in headers.items()}, body

    def json(self, url, *args):
        status, _, body = self.get(url, *args)
        assert status == 200, (url, status, body)
        return json.loads(body)


@pytest.fixture
def http(host):
    return Http(host)


def run_playbook(playbook, *args, timeout=900, interrupt_at=None):
    """Runs one of the collection's playbooks (a name in playbooks/, or a
    path) against the scenario's hosts.

    Returns (exit code, output). The scenario's environment (collections,
    vault password) comes from Molecule. interrupt_at: the run is killed, as
    a dying controller would be, just before the task whose name holds this
    text starts (molecule/_shared/callback_plugins/interrupt.py); it runs in
    a process group of its own, which the kill takes whole.
    """
    root = os.environ["MOLECULE_PROJECT_DIRECTORY"]
    path = playbook if os.path.isabs(playbook) else f"{root}/playbooks/{playbook}"
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], path, *args]
    env = dict(os.environ)
    # Facts gathered once per host for the scenario's runs, then read from a
    # cache beside its inventory, in Molecule's folder of the scenario (what
    # the roles read of them: the distribution, CPUs, DNS and addresses,
    # none of which a test changes).
    env.setdefault("ANSIBLE_CACHE_PLUGIN", "ansible.builtin.jsonfile")
    env.setdefault("ANSIBLE_CACHE_PLUGIN_CONNECTION", os.path.join(os.path.dirname(os.path.dirname(cmd[2])), "facts"))
    if interrupt_at:
        env.update(
            ANSIBLE_CALLBACK_PLUGINS=f"{root}/molecule/_shared/callback_plugins",
            ANSIBLE_CALLBACKS_ENABLED="interrupt",
            PYDEPLOY_INTERRUPT_AT=interrupt_at,
        )
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env, start_new_session=bool(interrupt_at)
    )
    # Without the colours Molecule's environment asks for.
    return result.returncode, re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def tags_of(playbook):
    """The tags `--list-tags` shows for one of the collection's playbooks."""
    rc, out = run_playbook(playbook, "--list-tags")
    assert rc == 0, out[-3000:]
    found = set()
    for listed in re.findall(r"TASK TAGS: \[([^\]]*)\]", out):
        found.update(tag.strip() for tag in listed.split(",") if tag.strip())
    return sorted(found)


@pytest.fixture(scope="module")
def put_back():
    """For a test module whose playbook runs change the host: at its end,
    site.yml with the inventory's values puts the host back as it was."""
    yield
    rc, out = run_playbook("site.yml")
    assert rc == 0, out[-3000:]


def served_fingerprint(host, path=None):
    """The SHA-256 fingerprint of the certificate the front end presents for
    localhost, or of the certificate file at `path`."""
    source = f"cat {path}" if path else "echo | openssl s_client -connect localhost:443 -servername localhost 2>/dev/null"
    return host.check_output(f"{source} | openssl x509 -noout -fingerprint -sha256")


def gunicorn_settings(host):
    """What Gunicorn makes of its configuration file, setting by setting.
    --print-config prints the settings, then goes on to import the app
    (which needs the service's environment): only the settings are read."""
    seen = host.run(f"/srv/{APP}/current/venv/bin/gunicorn --print-config --config /etc/{APP}/gunicorn.conf.py").stdout
    return {name.strip(): value.strip() for name, _, value in (line.partition("=") for line in seen.splitlines()) if value}


def changed_count(out):
    """The sum of changed=N over the play recap; fails if there is no recap."""
    counts = re.findall(r"changed=(\d+)", out)
    assert counts, out[-2000:]
    return sum(int(count) for count in counts)


def changed_tasks(out):
    """The tasks (and handlers) that reported a change, as "task: host":
    what a failed "nothing changed" assertion shows."""
    found, task = [], None
    for line in out.splitlines():
        banner = re.match(r"(?:TASK|RUNNING HANDLER) \[(.*)\] \*", line)
        if banner:
            task = banner.group(1)
            continue
        changed = re.match(r"changed: \[([^\]]+)\]", line)
        if changed and task:
            found.append(f"{task}: {changed.group(1)}")
    return found


def hosts_named(names):
    """testinfra hosts of the scenario's inventory, by name: for tests whose
    playbook runs cover several hosts at once."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return {name: testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory) for name in names}


def name_of(host):
    return host.backend.get_hostname()


def run_watched(names, state, playbook, *args, stream=True):
    """Runs a playbook against the hosts named, with each host's state(host)
    taken before and after and, if asked, a request stream (RequestStream)
    on each meanwhile; returns (exit code, output, {host: (the stream's
    answers, state before, state after)})."""
    hosts = hosts_named(names)
    before = {name: state(host) for name, host in hosts.items()}
    streams = {name: RequestStream(host) for name, host in hosts.items()} if stream else {}
    for one in streams.values():
        one.__enter__()
    try:
        rc, out = run_playbook(playbook, *args)
    finally:
        for one in streams.values():
            one.__exit__(None, None, None)
    after = {name: state(host) for name, host in hosts.items()}
    return rc, out, {name: (streams[name].answers() if stream else [], before[name], after[name]) for name in names}


def retried(answers):
    """How many requests of a RequestStream were sent again after a GOAWAY."""
    return sum(line.startswith("RETRIED ") for line in answers)


def report_stream(capsys, what, answers, expected):
    """Prints a request stream's count; returns (the answers that failed or
    came from no expected version, the expected versions seen, in order)."""
    failed = [line for line in answers if not line.endswith(" 200") or not any(f'"version":"{v}"' in line for v in expected)]
    seen = [v for v in expected if any(f'"version":"{v}"' in line for line in answers)]
    with capsys.disabled():
        print(f"\n  {what}: {len(answers)} requests, {len(failed)} failed, {retried(answers)} sent again after a GOAWAY, versions seen: {seen}")
    return failed, seen


def sandbox_exposure(host, unit, capsys):
    """systemd-analyze security's overall exposure of a unit, printed."""
    out = host.check_output(f"systemd-analyze security --no-pager {unit}")
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", out)
    assert exposure, out[-500:]
    with capsys.disabled():
        print(f"\n  systemd-analyze security {unit} on {name_of(host)}: exposure {exposure.group(1)}")
    return float(exposure.group(1))


class RequestStream:
    """A bounded stream of HTTPS requests through Nginx, run inside the host.

    One request every 0.1 s until stop(), bounded by `limit` requests and
    `seconds` (the longest a playbook run may take, run_playbook's timeout);
    each line of the log is the answer's body followed by its HTTP status. A
    stream that reached a bound before stop() ends its log with a line
    saying so, which report_stream counts as a failed answer: what a test counts
    depends on the stream lasting as long as the run it watches, however
    slow the machine.

    The requests are HTTP/2, as a browser's. A reload ends the old workers'
    connections that carry no request yet with a GOAWAY naming no stream
    processed (last_stream=0): a request sent on one at that moment was
    refused unprocessed, which RFC 9113 (6.8) lets a client send again and
    browsers do; curl does not. Such a request is sent once more on a new
    connection, as a browser would, and its line begins with RETRIED (counted
    by report_stream); any other failure, or a second one, stays a failure.
    """

    def __init__(self, host, url="https://localhost/whoami", limit=9000, seconds=900, curl_args=()):
        self.host = host
        self.url = url
        self.limit = limit
        self.seconds = seconds
        self.curl_args = shlex.join(curl_args)

    def __enter__(self):
        self.host.check_output(
            "rm -f /tmp/stream.log /tmp/stream.stop; systemd-run --unit=request-stream --collect /bin/sh -c "
            f"'req() {{ curl -vsk --max-time 10 -w \" %{{http_code}}\" {self.curl_args} {self.url} 2>/tmp/stream.err | tr -d \"\\r\\n\"; }}; "
            f"i=0; end=$(($(date +%s) + {self.seconds})); "
            f"while [ $i -lt {self.limit} ] && [ $(date +%s) -lt $end ] && [ ! -e /tmp/stream.stop ]; do "
            "answer=$(req); case \"$answer\" in *\" 000\") grep -q \"GOAWAY, error=0, last_stream=0\" /tmp/stream.err "
            "&& answer=\"RETRIED $(req)\";; esac; "
            "echo \"$answer\" >> /tmp/stream.log; i=$((i+1)); sleep 0.1; done; "
            f"[ -e /tmp/stream.stop ] || echo \"the stream reached its bound ({self.limit} requests, {self.seconds} s) before the run ended\" >> /tmp/stream.log'"
        )
        return self

    def __exit__(self, *exc):
        self.host.run("touch /tmp/stream.stop; sleep 1.5; systemctl stop request-stream 2>/dev/null; true")

    def answers(self):
        return self.host.file("/tmp/stream.log").content_string.strip().splitlines()


def sslyze(target, ca_file, profile):
    """Runs sslyze from the controller against `target` (name:port{ip});
    returns (exit code, output). Exit code 0: compliant with the Mozilla profile."""
    cmd = [
        str(pathlib.Path(sys.executable).parent / "sslyze"),
        f"--mozilla_config={profile}",
        f"--certinfo_ca_file={ca_file}",
        target,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    return result.returncode, result.stdout + result.stderr


def make_certificate(directory, names, days=30, not_before_days=-1, key=None, issuer=None, ca=False):
    """Writes a certificate for `names` (DNS names or IPs) and its key into
    `directory`, on the controller; signed by `issuer` (cert, key) or by
    itself; `ca`: a CA's certificate, which may sign others. Returns
    (certificate path, key path, (certificate, key))."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    sans = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer_cert, issuer_key = issuer or (None, key)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=not_before_days))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        # What Python 3.13's strict verification asks of a chain: key
        # identifiers, and a CA's key usage.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if ca:
        cert = cert.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    cert = cert.sign(issuer_key, hashes.SHA256())
    stem = pathlib.Path(directory) / f"{re.sub(r'[^A-Za-z0-9.-]', '_', names[0])}-{uuid.uuid4().hex[:8]}"
    cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path), (cert, key)


def make_version(base, version, broken=False):
    """A copy of the example app that reports `version`; `broken` fails at import."""
    target = base / f"v{version}{'-broken' if broken else ''}"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    init = target / "hello" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text()))
    if broken:
        wsgi = target / "wsgi.py"
        wsgi.write_text("import module_that_does_not_exist  # noqa: F401\n" + wsgi.read_text())
    return target
