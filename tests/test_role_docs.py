"""Each role's README.md is what scripts/role-docs writes from its
meta/argument_specs.yml: a spec changed without the README fails here."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_role_readmes_are_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "role-docs"), "--check"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_role_has_a_readme_with_every_option():
    import yaml

    for role in sorted(path for path in (ROOT / "roles").iterdir() if path.is_dir()):
        readme = (role / "README.md").read_text()
        options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
        assert [name for name in options if f"| `{name}` |" not in readme] == [], role.name


def test_the_readmes_tags_table_lists_every_tag_of_site_yml():
    # README.md, "Part of the play: tags": every tag `--list-tags` shows (but "always").
    import os
    import re

    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    result = subprocess.run(
        ["ansible-playbook", str(ROOT / "playbooks" / "site.yml"), "--list-tags"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tags = set(re.search(r"TASK TAGS: \[(.*)\]", result.stdout).group(1).split(", ")) - {"always"}
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Part of the play: tags") :].split("\n\n")[2]
    listed = set(re.findall(r"`([a-z_]+)`", table))
    assert (sorted(tags - listed), sorted(listed - tags)) == ([], [])
