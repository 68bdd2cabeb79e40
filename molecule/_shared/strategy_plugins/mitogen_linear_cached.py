"""Test bed only: Mitogen for Ansible's mitogen_linear strategy, with two
pieces of Mitogen's own work kept on disk across playbook runs.

Every run starts a Mitogen master afresh, and before its first task it
(1) strips comments and docstrings from the source of Mitogen's modules it
sends to each host (mitogen.minify.minimize_source, Python's tokenize over
mitogen.core, parent, service, ansible_mitogen.target, ...), and (2) scans
the imports of each Ansible module a task runs for the module_utils to send
with it (ansible_mitogen.module_finder.scan). Both give the same answer for
the same files, yet cost a short run of the tests (a tag in check mode)
about 0.7 of its 4.3 controller CPU seconds, in some 300 runs a CI
(docs/docsite/rst/benchmarks.rst). Here both answers are kept in
PYDEPLOY_MITOGEN_CACHE (scripts/lib.sh, mitogen_strategy_env, sets it):

- a minified source under the digest of the controller's Python version and
  the source itself: another source, another entry;
- a module's scan under the digest of the controller's Python version, the
  module's name, path, size and modification time, and the search path with
  each of its folders' size and modification time (a file added there);
  kept with the size and modification time of every file the scan found,
  and used only while each of them is unchanged.

What the hosts receive is what Mitogen would send without the cache.

(3) Each task's worker is a fork of this process (the strategy's), and
Python's collector in the worker, when the task's own objects start a
collection of the oldest generation, walks every object it inherited (the
play, its roles, the variables), touching pages it would otherwise share.
Before each fork the process's objects are frozen (gc.freeze: left out of
collections), and thawed again in the parent: the worker's collections walk
its own objects only. Side by side on the default scenario's converged host
(alternating, machine CPU seconds): a run of every task 13.7 against 15.2 on
average (three pairs), a tag run in check mode 6.26 against 6.44 (four).

(4) Each task's worker compiled every template of the task anew (Jinja's
parse and code generation, ansible-core keeping nothing between processes),
in each of some 150 workers of a run of every task. From this process on, every
template is compiled the way the collection's input checks compile theirs
(plugin_utils/roles.py, templates_compiled_once): the code Jinja makes of a
template kept on disk (PYDEPLOY_TEMPLATE_CACHE_DIR: scripts/lib.sh gives the
test bed .cache/templates) and rendered by Ansible as before; a template that
does not compile is left to Ansible, to fail as it fails. The workers inherit
it with the fork. Side by side on the default scenario's converged host
(alternating, the run's controller CPU seconds): a run of every task 12.4
against 13.8 on average (nine pairs: 11.0-14.0 against 12.0-15.7), a tag run
in check mode 4.0 against 4.6 (three pairs, as noisy).

The benchmarks (bench/) and users run Mitogen's own strategy, unchanged.
"""

import gc
import hashlib
import json
import os
import sys
import tempfile

import ansible_mitogen.loaders
import ansible_mitogen.module_finder
import ansible_mitogen.strategy
import mitogen.minify
from ansible_collections.pydeploy.wsgi.plugins.plugin_utils.roles import templates_compiled_once

DOCUMENTATION = """
name: mitogen_linear_cached
short_description: Mitogen's mitogen_linear with its minified sources and module scans kept on disk (tests only)
description: See the module docstring.
"""

CACHE = os.environ.get("PYDEPLOY_MITOGEN_CACHE", "")
if not CACHE:
    raise RuntimeError("mitogen_linear_cached: PYDEPLOY_MITOGEN_CACHE names no folder (scripts/lib.sh sets it)")
os.makedirs(CACHE, exist_ok=True)

_minimize_source = mitogen.minify.minimize_source
_scan = ansible_mitogen.module_finder.scan


def _entry(kind, *parts):
    digest = hashlib.sha256()
    for part in (sys.version, *parts):
        digest.update((part if isinstance(part, bytes) else str(part).encode("utf-8")) + b"\0")
    return os.path.join(CACHE, f"{kind}-{digest.hexdigest()}")


def _write(path, text):
    # Several runs at once (three scenarios, two tag runs each): each writes
    # a file of its own and renames it over the entry, never seen half written.
    fd, new = tempfile.mkstemp(dir=CACHE, prefix=".new-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(new, path)


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _stamp(path):
    status = os.stat(path)
    return [status.st_size, status.st_mtime_ns]


def minimize_source(source):
    """mitogen.minify.minimize_source, its answer kept by the source's digest."""
    path = _entry("minify", source.encode("utf-8") if isinstance(source, str) else source)
    kept = _read(path)
    if kept is None:
        kept = _minimize_source(source)
        _write(path, kept)
    return kept


def scan(module_name, module_path, search_path):
    """ansible_mitogen.module_finder.scan, its answer kept while the module
    and every file it found are unchanged."""
    # The search path's folders stamped too: a module_utils file added at
    # the top of one may resolve an import the kept scan found nothing for.
    folders = [[folder, _stamp(folder)] for folder in search_path if os.path.isdir(folder)]
    path = _entry("scan", module_name, module_path, _stamp(module_path), json.dumps(folders), json.dumps(list(search_path)))
    kept = _read(path)
    if kept is not None:
        entry = json.loads(kept)
        try:
            if all(_stamp(found) == stamp for found, stamp in entry["stamps"]):
                return [tuple(item) for item in entry["found"]]
        except OSError:
            pass  # a file it found is gone: scanned again
    found = _scan(module_name, module_path, search_path)
    _write(path, json.dumps({"found": found, "stamps": [[name_path, _stamp(name_path)] for _, name_path, _ in found]}))
    return found


mitogen.minify.minimize_source = minimize_source
ansible_mitogen.module_finder.scan = scan
# (3) above; freezing and thawing twice, were the plugin loaded twice, is the same.
os.register_at_fork(before=gc.freeze, after_in_parent=gc.unfreeze)
# (4) above: for the life of this process and its forks (the strategy is
# loaded before the first task's worker is forked).
KEPT_TEMPLATES = templates_compiled_once()
KEPT_TEMPLATES.__enter__()

Base = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
    pass
