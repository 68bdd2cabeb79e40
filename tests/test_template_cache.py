"""plugins/plugin_utils/template_cache.py: the code Jinja makes of the input
checks' templates, kept from one run to the next (each run is a process of
its own: ansible-core keeps nothing between them). A later process compiles
none of the templates an earlier one kept, and renders each as a process
that compiles it; a file another user could have written is never read."""

import json
import os
import pathlib
import stat
import subprocess
import sys

import pytest
from ansible_collections.pydeploy.wsgi.plugins.plugin_utils import template_cache
from conftest import COUNTING_PROCESS

ROOT = pathlib.Path(__file__).resolve().parent.parent

# One process's renders within templates_compiled_once, as the actions make
# them: each template for two hosts' variables; what each gave (or the error
# it raised), and how many templates Jinja compiled.
RENDER = COUNTING_PROCESS + r"""
from ansible_collections.pydeploy.wsgi.plugins.plugin_utils import roles

TEMPLATES = [
    "{{ names | map('upper') | join(',') }}:{{ port }}",
    "{{ names | select('match', '^[a-c]') | list }}",
    "{{ port | int > 1024 and names | length > 0 }}",
    "{{ missing | default('none') }} {{ {'a': port} | dict2items | to_json }}",
    "{% for n in names %}{{ loop.index }}={{ n | regex_replace('[aeiou]', '*') }};{% endfor %}",
    "{{ version is version('1.2', '>=') }} {{ names is not search(';') }}",
    "{{ port + undefined_here }}",
    "{{ names | map('upper' }}",
]
HOSTS = [{"names": ["alpha", "bravo"], "port": 80, "version": "1.10"}, {"names": ["charlie"], "port": 8443, "version": "1.1"}]
out = []
with roles.templates_compiled_once():
    for text in TEMPLATES:
        for host in HOSTS:
            try:
                out.append(repr(Templar(loader=DataLoader(), variables=host).template(trust_as_template(text))))
            except AnsibleError as error:
                out.append(f"{type(error).__name__}: {error.message}")
print(json.dumps({"out": out, "compiled": len(made)}))
"""


def render(folder):
    env = dict(os.environ, PYDEPLOY_TEMPLATE_CACHE_DIR=str(folder))
    result = subprocess.run([sys.executable, "-c", RENDER, str(ROOT / "collections")], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_a_later_run_compiles_none_of_the_kept_templates_and_renders_each_the_same(tmp_path):
    off = render("")
    first = render(tmp_path / "templates")
    later = render(tmp_path / "templates")
    # Without the cache and in the first run, each template compiled once
    # (the broken one at each use, as ansible-core does); the later run
    # compiled only the broken one again.
    assert off["compiled"] == first["compiled"] == 9, (off, first)
    assert later["compiled"] == 2, later
    assert later["out"] == first["out"] == off["out"]
    assert off["out"][:4] == ["'ALPHA,BRAVO:80'", "'CHARLIE:8443'", "['alpha', 'bravo']", "['charlie']"], off["out"]
    assert off["out"][10:12] == ["'True True'", "'False True'"], off["out"]
    assert off["out"][12].startswith("AnsibleUndefinedVariable: ") and "undefined_here" in off["out"][12], off["out"]
    assert off["out"][14].startswith("AnsibleTemplate") and ": Syntax error in template" in off["out"][14], off["out"]
    # A file a template, the user's alone, in a folder named after the
    # releases the code depends on: 7 templates compiled (the broken one is not kept).
    (releases,) = (tmp_path / "templates").iterdir()
    assert releases.name.startswith(f"{sys.implementation.cache_tag}-ansible-core-") and "-jinja2-" in releases.name
    files = [path for path in releases.rglob("*") if path.is_file()]
    assert len(files) == 7 and all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files), files
    assert stat.S_IMODE((tmp_path / "templates").stat().st_mode) == 0o700


DIGEST = template_cache.key("{{ x }}", "options")


def kept_file(folder):
    store = template_cache.Store(str(folder))
    store.add(DIGEST, compile("x = 1", "<template>", "exec"))
    assert template_cache.Store(str(folder)).get(DIGEST) is not None
    return pathlib.Path(store._path(DIGEST))


@pytest.mark.parametrize("how", ["writable by others", "another owner", "a link"])
def test_a_file_another_user_could_have_written_is_not_read_and_is_replaced(tmp_path, how):
    folder = tmp_path / "templates"
    path = kept_file(folder)
    if how == "writable by others":
        path.chmod(0o666)
    elif how == "another owner":
        os.chown(path, 65534, 65534)
    else:
        target = tmp_path / "elsewhere.marshal"
        path.rename(target)
        path.symlink_to(target)
    store = template_cache.Store(str(folder))
    assert store.get(DIGEST) is None
    # Compiled again, and kept in a file of the user's alone, in place of it.
    store.add(DIGEST, compile("y = 2", "<template>", "exec"))
    assert not path.is_symlink() and path.stat().st_uid == os.geteuid() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert template_cache.Store(str(folder)).get(DIGEST).co_names == ("y",)


def test_a_folder_others_may_write_gets_no_file(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    store = template_cache.Store(str(folder))
    store.add(DIGEST, compile("x = 1", "<template>", "exec"))
    assert store.get(DIGEST) is None
    assert not [path for path in folder.rglob("*") if path.is_file()]


def test_a_damaged_file_is_compiled_anew(tmp_path):
    folder = tmp_path / "templates"
    path = kept_file(folder)
    path.write_bytes(path.read_bytes()[:40])
    assert template_cache.Store(str(folder)).get(DIGEST) is None
