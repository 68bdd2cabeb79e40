"""The README's "Put your app on your servers", followed as a newcomer
would, for the scenarios' tests of the shipped example inventories
(molecule/acme: one server; molecule/cluster: a balancer and app hosts).

In a copy of the checkout, with nothing of the test bed's settings (no
ANSIBLE_* or Molecule variables: the copy's own ansible.cfg, as run from
its top folder): the example inventory copied with the README's command,
its hosts' names and user set (step 2) and the site's names (step 3), the
secret key put into a vault made with `ansible-vault create` (step 4), and
the README's site.yml command (step 5). The scenarios' tests of these run
after the tests that expect the hosts as the scenario's converge left them
(the check-mode test runs first).

What differs from a real user's run, because the test hosts are containers
without SSH or public DNS: the hosts are reached over Docker
(ansible_connection), the vault password comes from a file instead of the
prompt, and the TLS settings the scenario gives (its own ACME CA, or none)
are added under a comment saying so.

on_mitogen: the run goes on the test bed's Mitogen strategy (its settings
kept from the environment, the connection named `docker` so that Mitogen
takes it over) instead of Ansible's own. What the steps test (the README's
commands, the example inventory, the vault) is the same, at about a quarter
of the CPU (one host side by side: 15-16 CPU seconds against 57-59). The one-server example
(molecule/acme) stays a newcomer's plain run, as the multiapp scenario's
converge keeps the plain strategy tested on a fresh host."""

# The test bed's settings that put a run on Mitogen (scripts/lib.sh,
# mitogen_strategy_env); the collections' path is the copy's own.
MITOGEN_SETTINGS = ("ANSIBLE_STRATEGY", "ANSIBLE_STRATEGY_PLUGINS", "PYDEPLOY_MITOGEN_CACHE", "ANSIBLE_PYTHON_INTERPRETER",
                    "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH")

import os
import pathlib
import re
import secrets
import shlex
import shutil
import subprocess

ROOT = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])


def readme_command(pattern):
    """The README's command of that step matching pattern (a regex), as
    written there (in a code block, or in backticks)."""
    steps = (ROOT / "README.md").read_text().split("\n## Put your app on your servers\n", 1)[1].split("\n## ", 1)[0]
    found = re.findall(rf"(?m)^\s*({pattern})(?:\s+#.*)?$|`({pattern})`", steps)
    commands = {one or two for one, two in found}
    assert len(commands) == 1, (pattern, commands)
    return commands.pop().strip()


def follow(base, example, hosts, addresses, settings, server_names, test_bed_settings, on_mitogen=False):
    """Follows the steps for inventories/<example> in a copy of the checkout
    under base. hosts: {the example's host name: the container's};
    addresses: {the example's pydeploy_private_address: the container's};
    settings:
    the group_vars folder of the example's vars.yml and vault.yml (web,
    all); test_bed_settings: YAML lines added to vars.yml; on_mitogen: the
    run on the test bed's Mitogen strategy (above). Returns a dict: each
    step's (exit code, output), the vault file's text and the secret."""
    checkout = base / "checkout"
    shutil.copytree(ROOT, checkout, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv", ".cache", "molecule", "bench", "__pycache__", "mysite"))
    env = {name: value for name, value in os.environ.items() if not name.startswith(("ANSIBLE_", "MOLECULE_"))}
    connection = "community.docker.docker"
    if on_mitogen:
        assert os.environ.get("ANSIBLE_STRATEGY", "").startswith("mitogen_"), "on_mitogen: the test bed runs this verify on Mitogen"
        env |= {name: os.environ[name] for name in MITOGEN_SETTINGS if name in os.environ}
        # The copy's collection first, then the others the test bed's runs use.
        used = [path for path in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(":") if path and path != str(ROOT / "collections")]
        env["ANSIBLE_COLLECTIONS_PATH"] = ":".join([str(checkout / "collections"), *used])
        connection = "docker"
    secret = secrets.token_urlsafe(48)
    # What the user types into the editor ansible-vault opens.
    editor = base / "editor"
    editor.write_text(f"#!/bin/sh\nprintf 'vault_app_secret_key: \"%s\"\\n' '{secret}' > \"$1\"\n")
    editor.chmod(0o755)
    env["EDITOR"] = str(editor)
    (base / "vault-password").write_text(secrets.token_urlsafe(24) + "\n")

    def run(line):
        argv = line.split()
        if argv[0] in ("ansible-vault", "ansible-playbook"):
            argv = [arg for arg in argv if arg != "--ask-vault-pass"] + ["--vault-password-file", str(base / "vault-password")]
        if argv[:2] == ["ansible-vault", "create"]:
            # It opens the editor on a terminal only: util-linux's script
            # gives it one.
            argv = ["script", "--quiet", "--return", "--command", shlex.join(argv), "/dev/null"]
        result = subprocess.run(argv, cwd=checkout, env=env, capture_output=True, text=True, timeout=1200, check=False,
                                stdin=subprocess.DEVNULL)
        return result.returncode, result.stdout + result.stderr

    steps = {"secret": secret}
    # Step 2: copy the example, name the hosts and the user.
    steps["copy"] = run(readme_command(rf"cp -r inventories/{example}\s+inventories/mysite"))
    site = checkout / "inventories" / "mysite"
    text = (site / "hosts.yml").read_text().replace("ansible_user: deploy", "ansible_user: root")
    for name, container in hosts.items():
        assert f"{name}:" in text, name
        text = re.sub(rf"(?m)^(\s*){re.escape(name)}:$", rf"\1{container}:\n\1  ansible_connection: {connection}", text)
    for address, ours in addresses.items():
        assert f"pydeploy_private_address: {address}\n" in text, address
        text = text.replace(f"pydeploy_private_address: {address}\n", f"pydeploy_private_address: {ours}\n")
    (site / "hosts.yml").write_text(text)
    # Step 3: the names the site answers (the example's app is the app).
    variables = site / "group_vars" / settings / "vars.yml"
    text = re.sub(r"(?m)^pydeploy_server_names: .*$", f"pydeploy_server_names: {server_names}", variables.read_text())
    # And its one name, where the example has one: the first of them.
    canonical = server_names.strip("[]").split(",")[0].strip()
    text = re.sub(r"(?m)^pydeploy_canonical_name: .*$", f"pydeploy_canonical_name: {canonical}", text)
    text += "\n# The test bed's (not a user's step).\n" + "".join(line + "\n" for line in test_bed_settings)
    variables.write_text(text)
    # Step 4: the vault, made with ansible-vault create.
    vault = f"inventories/mysite/group_vars/{settings}/vault.yml"
    command = readme_command(r"ansible-vault create inventories/mysite/group_vars/web/vault\.yml")
    if settings != "web":
        # The README gives production's path beside the command.
        assert "# production's copy: group_vars/all/vault.yml" in (ROOT / "README.md").read_text()
        command = command.replace("group_vars/web/", f"group_vars/{settings}/")
    steps["vault"] = run(command)
    steps["vault_file"] = (checkout / vault).read_text()
    # Step 5: deploy.
    steps["site"] = run(readme_command(r"ansible-playbook -i inventories/mysite playbooks/site\.yml --ask-vault-pass"))
    return steps


def assert_followed(steps):
    """The steps ran, the vault is encrypted, and nothing printed the secret."""
    assert steps["copy"][0] == 0, steps["copy"][1]
    assert steps["vault"][0] == 0, steps["vault"][1]
    assert steps["vault_file"].startswith("$ANSIBLE_VAULT;"), "the vault file is encrypted"
    assert steps["secret"] not in steps["vault_file"]
    rc, out = steps["site"]
    assert rc == 0, out[-4000:]
    assert "Could not match supplied host pattern" not in out
    assert steps["secret"] not in out
