"""The README's "Put your app on your servers", followed as a newcomer
would: in a copy of the checkout, with nothing of the test bed's settings
(no ANSIBLE_* or Molecule variables: the copy's own ansible.cfg, as run from
its top folder), the one-server example inventory copied with the README's
command, its host name, user and the site's name set (step 2 and 3), the
secret key put in a vault made with `ansible-vault create` (step 4), and
the README's site.yml command (step 5). The site then answers over HTTPS
with a certificate the ACME CA issued, serving the example's settings.

What differs from a real user's run, because the test hosts are containers
without SSH or public DNS: the host is reached over Docker
(ansible_connection), the vault password comes from a file instead of the
prompt, and the ACME CA is the scenario's pebble (its directory, and its
listener's CA trusted with the bundle pip needs) instead of Let's Encrypt's.
The scenario's own converge runs again afterwards, so that the tests after
this one find the hosts as the scenario left them."""

import os
import pathlib
import re
import secrets
import shutil
import subprocess

import pytest
from conftest import run_playbook

testinfra_hosts = ["ansible://pydeploy-acme-web"]
ROOT = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
STEPS = (ROOT / "README.md").read_text().split("\n## Put your app on your servers\n", 1)[1].split("\n## ", 1)[0]


def command(pattern):
    """The README's command matching pattern (a regex), as written there."""
    found = re.findall(rf"(?m)^\s*({pattern})(?:\s+#.*)?$|`({pattern})`", STEPS)
    commands = {one or two for one, two in found}
    assert len(commands) == 1, (pattern, commands)
    return commands.pop().strip()


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory):
    base = tmp_path_factory.mktemp("newcomer")
    checkout = base / "checkout"
    shutil.copytree(ROOT, checkout, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv", ".cache", "molecule", "bench", "__pycache__", "mysite"))
    env = {name: value for name, value in os.environ.items() if not name.startswith(("ANSIBLE_", "MOLECULE_"))}
    env["EDITOR"] = str(base / "editor")
    secret = secrets.token_urlsafe(48)
    # What the user types into the editor ansible-vault opens.
    (base / "editor").write_text(f"#!/bin/sh\nprintf 'vault_app_secret_key: \"%s\"\\n' '{secret}' > \"$1\"\n")
    (base / "editor").chmod(0o755)
    (base / "vault-password").write_text(secrets.token_urlsafe(24) + "\n")
    password = ["--vault-password-file", str(base / "vault-password")]

    def run(line):
        argv = line.split()
        if argv[0] in ("ansible-vault", "ansible-playbook"):
            argv = [arg for arg in argv if arg != "--ask-vault-pass"] + password
        result = subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True, timeout=900, check=False)
        return result.returncode, result.stdout + result.stderr

    steps = {}
    # Step 2: copy the one-server example, name the host and the user.
    steps["copy"] = run(command(r"cp -r inventories/staging inventories/mysite"))
    site = checkout / "inventories" / "mysite"
    hosts = (site / "hosts.yml").read_text()
    hosts = hosts.replace("ansible_user: deploy", "ansible_user: root")
    hosts = hosts.replace("staging.example.com:", "pydeploy-acme-web:\n          ansible_connection: community.docker.docker")
    (site / "hosts.yml").write_text(hosts)
    # Step 3: the name the site answers (the example's app is the app).
    settings = site / "group_vars" / "web" / "vars.yml"
    text = settings.read_text().replace("pydeploy_server_names: [staging.example.com]", "pydeploy_server_names: [www.pydeploy.test]")
    pebble = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "pebble" / "listener-ca.crt"
    text += ("\n# The test bed's ACME CA and the CAs it needs (not a user's step).\n"
             "tls_acme_directory: https://ca.pydeploy.test:14000/dir\n"
             f"python_ca_certificates: [/etc/ssl/certs/ca-certificates.crt, {pebble}]\n")
    settings.write_text(text)
    # Step 4: the vault, made with ansible-vault create.
    vault = command(r"ansible-vault create inventories/mysite/group_vars/web/vault\.yml")
    steps["vault"] = run(vault)
    steps["vault_file"] = (site / "group_vars" / "web" / "vault.yml").read_text()
    steps["secret"] = secret
    # Step 5: deploy.
    steps["site"] = run(command(r"ansible-playbook -i inventories/mysite playbooks/site\.yml --ask-vault-pass"))
    yield steps
    # The scenario's hosts as its converge leaves them, for the tests after.
    rc, out = run_playbook("site.yml")
    assert rc == 0, out[-3000:]


def test_the_readmes_steps_deploy_the_one_server_example(host, newcomer):
    assert newcomer["copy"][0] == 0, newcomer["copy"][1]
    assert newcomer["vault"][0] == 0, newcomer["vault"][1]
    assert newcomer["vault_file"].startswith("$ANSIBLE_VAULT;"), "the vault file is encrypted"
    assert newcomer["secret"] not in newcomer["vault_file"]
    rc, out = newcomer["site"]
    assert rc == 0, out[-4000:]
    assert "Could not match supplied host pattern" not in out
    assert newcomer["secret"] not in out
    # HTTPS with the certificate pebble issued, checked against its root only.
    host.check_output("curl -sf --max-time 10 https://ca.pydeploy.test:15000/roots/0 -o /tmp/pebble-root.pem")
    seen = host.check_output(
        "curl -sf --max-time 10 --cacert /tmp/pebble-root.pem --resolve www.pydeploy.test:443:127.0.0.1 https://www.pydeploy.test/whoami"
    )
    assert '"version":"1.0.0-staging"' in seen.replace(" ", ""), seen
    assert '"scheme":"https"' in seen.replace(" ", ""), seen
    # The vault's key is the app's.
    assert newcomer["secret"] in host.file("/etc/hello/env").content_string
