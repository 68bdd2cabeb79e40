"""The collections the test bed's and the bench's Mitogen runs see
(scripts/lib.sh, used_collections): galaxy.yml's dependencies and what they
depend on, found by Ansible with nothing else on its collections path."""

import json
import os
import pathlib
import subprocess

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def used_collections():
    out = subprocess.run(["bash", "-c", f"source {ROOT / 'scripts' / 'lib.sh'} && used_collections"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    return pathlib.Path(out.stdout.strip())


def test_every_dependency_and_theirs_is_there():
    folder = used_collections() / "ansible_collections"
    present = {f"{namespace.name}.{name.name}": name for namespace in folder.iterdir() for name in namespace.iterdir()}
    wanted = set(yaml.safe_load((ROOT / "galaxy.yml").read_text())["dependencies"]) | {"community.docker", "ansible.posix"}
    assert wanted <= set(present), wanted - set(present)
    for name, path in present.items():
        assert path.is_symlink() and (path / "MANIFEST.json").is_file(), name
        needs = json.loads((path / "MANIFEST.json").read_text())["collection_info"].get("dependencies") or {}
        assert set(needs) <= set(present), (name, set(needs) - set(present))
    # The same folder each time (made once a venv).
    assert used_collections() / "ansible_collections" == folder


def test_ansible_finds_the_collections_modules_there_and_no_others():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_COLLECTIONS_PATH=f"{ROOT / 'collections'}:{used_collections()}")
    listed = subprocess.run(["ansible-galaxy", "collection", "list", "--format", "json"],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    names = {name for collections in json.loads(listed.stdout).values() for name in collections}
    assert {"pydeploy.wsgi", "community.crypto", "community.docker"} <= names, names
    assert "community.general" not in names, names
    doc = subprocess.run(["ansible-doc", "-t", "module", "community.crypto.openssl_privatekey"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)
    assert doc.returncode == 0 and "openssl_privatekey" in doc.stdout, doc.stderr[-2000:]
