"""The test bed's strategy, molecule/_shared/strategy_plugins/mitogen_linear_cached.py:
Mitogen's minified sources and module scans kept on disk across runs give
the answers Mitogen gives, and a scan is made again when a file it found
changes; the templates a run and its workers compile are kept for the next
run, which renders them the same without compiling them."""

import gc
import importlib.util
import inspect
import json
import os
import pathlib
import subprocess
import sys

import mitogen.core
import mitogen.minify
import pytest
from conftest import COUNTING_PROCESS

ROOT = pathlib.Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "molecule" / "_shared" / "strategy_plugins" / "mitogen_linear_cached.py"


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """The plugin loaded with its cache in tmp_path; what it replaces in
    Mitogen put back afterwards."""
    import ansible_mitogen.module_finder  # noqa: PLC0415
    from ansible._internal._templating._engine import TemplateEngine  # noqa: PLC0415

    monkeypatch.setattr(mitogen.minify, "minimize_source", mitogen.minify.minimize_source)
    monkeypatch.setattr(ansible_mitogen.module_finder, "scan", ansible_mitogen.module_finder.scan)
    # The plugin compiles every template through the kept code from then on: not the other tests'.
    monkeypatch.setattr(TemplateEngine, "_compile_template", TemplateEngine._compile_template)
    monkeypatch.setenv("PYDEPLOY_TEMPLATE_CACHE_DIR", str(tmp_path / "templates"))
    monkeypatch.setenv("PYDEPLOY_MITOGEN_CACHE", str(tmp_path / "cache"))
    spec = importlib.util.spec_from_file_location("mitogen_linear_cached", PLUGIN)
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    # Mitogen's master and planner call these through their modules.
    assert mitogen.minify.minimize_source is plugin.minimize_source
    assert ansible_mitogen.module_finder.scan is plugin.scan
    return plugin


def test_without_a_cache_folder_the_strategy_does_not_load(monkeypatch):
    monkeypatch.delenv("PYDEPLOY_MITOGEN_CACHE", raising=False)
    spec = importlib.util.spec_from_file_location("mitogen_linear_cached_bare", PLUGIN)
    with pytest.raises(RuntimeError, match="PYDEPLOY_MITOGEN_CACHE"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


def test_a_minified_source_is_mitogens_and_kept(cached, monkeypatch, tmp_path):
    source = inspect.getsource(mitogen.core)
    first = cached.minimize_source(source)
    assert first == cached._minimize_source(source) and len(first) < len(source)
    assert len(list((tmp_path / "cache").glob("minify-*"))) == 1

    def not_again(_source):
        raise AssertionError("minified again")

    monkeypatch.setattr(cached, "_minimize_source", not_again)
    assert cached.minimize_source(source) == first
    # Another source is another entry.
    with pytest.raises(AssertionError, match="minified again"):
        cached.minimize_source(source + "\n# one line more\n")


def test_a_scan_is_mitogens_kept_and_made_again_when_a_file_it_found_changes(cached, monkeypatch, tmp_path):
    utils = tmp_path / "module_utils"
    utils.mkdir()
    (utils / "helper.py").write_text("VALUE = 1\n")
    (utils / "other.py").write_text("OTHER = 2\n")
    module = tmp_path / "mod.py"
    module.write_text("from ansible.module_utils.helper import VALUE\n")
    scans = []
    scan = cached._scan

    def counted(*args):
        scans.append(args)
        return scan(*args)

    monkeypatch.setattr(cached, "_scan", counted)
    found = cached.scan("ansible_module_mod", str(module), (str(utils),))
    assert found == scan("ansible_module_mod", str(module), (str(utils),)) == [("ansible.module_utils.helper", str(utils / "helper.py"), False)]
    assert cached.scan("ansible_module_mod", str(module), (str(utils),)) == found and len(scans) == 1
    # Another search path: another entry.
    cached.scan("ansible_module_mod", str(module), (str(utils), str(tmp_path)))
    assert len(scans) == 2
    # A file the scan found now imports another: scanned again, found.
    (utils / "helper.py").write_text("from ansible.module_utils.other import OTHER\nVALUE = 1\n")
    again = cached.scan("ansible_module_mod", str(module), (str(utils),))
    assert len(scans) == 3 and ("ansible.module_utils.other", str(utils / "other.py"), False) in again
    # The same size, another modification time: scanned again too.
    stamp = os.stat(utils / "other.py")
    os.utime(utils / "other.py", ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))
    cached.scan("ansible_module_mod", str(module), (str(utils),))
    assert len(scans) == 4
    # A file it found is gone: scanned again, not an error.
    (utils / "other.py").unlink()
    (utils / "helper.py").write_text("VALUE = 1\n")
    assert cached.scan("ansible_module_mod", str(module), (str(utils),)) == found and len(scans) == 5
    # A module_utils file added where the search path looks: scanned again.
    (utils / "new.py").write_text("NEW = 3\n")
    stamp = os.stat(utils)
    os.utime(utils, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))
    cached.scan("ansible_module_mod", str(module), (str(utils),))
    assert len(scans) == 6


def test_a_forked_worker_leaves_what_it_inherited_out_of_its_collections(cached):
    # Each task's worker is a fork of the strategy's process: there, what it
    # inherited is frozen (gc.freeze), in the parent nothing stays frozen.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, str(gc.get_freeze_count()).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    frozen_in_child = int(os.read(read, 64))
    os.close(read)
    assert frozen_in_child > 10000, frozen_in_child
    assert gc.get_freeze_count() == 0


# One run's process: the plugin loaded as the strategy's process loads it,
# a template rendered there, then two in a fork of it (a task's worker): one
# new, one the process rendered before. What each gave, and how many
# templates Jinja compiled in each.
RUN = COUNTING_PROCESS + r"""
spec = importlib.util.spec_from_file_location("mitogen_linear_cached", sys.argv[2])
spec.loader.exec_module(importlib.util.module_from_spec(spec))

def render(text, **variables):
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(text))

NAMES = "{{ names | map('upper') | join(',') }}"
main = [render(NAMES, names=["alpha", "bravo"])]
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    before = len(made)
    out = [render("{{ (port | int + 1) ~ ' ' ~ names | length }}", port="79", names=["x"]), render(NAMES, names=["charlie"])]
    os.write(write, json.dumps({"out": out, "compiled": len(made) - before}).encode())
    os._exit(0)
os.close(write)
os.waitpid(pid, 0)
print(json.dumps({"main": {"out": main, "compiled": len(made)}, "worker": json.loads(os.read(read, 65536))}))
"""


def strategy_run(tmp_path):
    env = dict(os.environ, PYDEPLOY_MITOGEN_CACHE=str(tmp_path / "mitogen"), PYDEPLOY_TEMPLATE_CACHE_DIR=str(tmp_path / "templates"))
    result = subprocess.run([sys.executable, "-c", RUN, str(ROOT / "collections"), str(PLUGIN)], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_the_templates_a_run_and_its_workers_compile_are_kept_for_the_next_run(tmp_path):
    first = strategy_run(tmp_path)
    # Compiled once each: the worker's second template is the one its
    # process compiled before the fork.
    assert first == {"main": {"out": ["ALPHA,BRAVO"], "compiled": 1}, "worker": {"out": ["80 1", "CHARLIE"], "compiled": 1}}, first
    assert len(list((tmp_path / "templates").rglob("*/*/*"))) == 2
    # The next run compiles none, and renders each the same.
    later = strategy_run(tmp_path)
    assert later == {"main": {"out": ["ALPHA,BRAVO"], "compiled": 0}, "worker": {"out": ["80 1", "CHARLIE"], "compiled": 0}}, later
