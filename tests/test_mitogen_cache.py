"""The test bed's strategy, molecule/_shared/strategy_plugins/mitogen_linear_cached.py:
Mitogen's minified sources and module scans kept on disk across runs give
the answers Mitogen gives, and a scan is made again when a file it found
changes."""

import gc
import importlib.util
import inspect
import os
import pathlib

import mitogen.core
import mitogen.minify
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "molecule" / "_shared" / "strategy_plugins" / "mitogen_linear_cached.py"


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """The plugin loaded with its cache in tmp_path; what it replaces in
    Mitogen put back afterwards."""
    import ansible_mitogen.module_finder  # noqa: PLC0415

    monkeypatch.setattr(mitogen.minify, "minimize_source", mitogen.minify.minimize_source)
    monkeypatch.setattr(ansible_mitogen.module_finder, "scan", ansible_mitogen.module_finder.scan)
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
