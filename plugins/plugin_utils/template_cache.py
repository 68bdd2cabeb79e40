# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Compiled Jinja templates kept from one run to the next, for the
collection's controller-side actions (pydeploy.wsgi.check_inputs and
pydeploy.wsgi.converged, through roles.templates_compiled_once).

ansible-core compiles a template at every use and keeps nothing from one
process to the next: the input checks of every run compiled the same 130 to
190 templates again, 0.3-0.6 s of CPU a run (docs/docsite/rst/benchmarks.rst).
Here the Python code Jinja makes of a template is kept, as Jinja's own
bytecode cache keeps it for templates loaded from files: a small file a
template, named by a digest of its text and compile options, in a folder a
Python, ansible-core and Jinja release (the code is theirs: the filters and
tests a template names are looked up when it renders, as Jinja's code does).
A run reads the files of the templates it compiles, and no others.
Rendering is Ansible's, as before; a template that does not compile is
compiled by Ansible again, to fail as Ansible fails.

The folders are in PYDEPLOY_TEMPLATE_CACHE_DIR (default
$XDG_CACHE_HOME/pydeploy.wsgi/templates, or ~/.cache/...; empty: no cache),
the user's alone (0700). A file that is a link, not the user's, or writable
by anyone else is not read (its code would run): it is replaced. Two runs
that keep one template at once each write a file aside and rename it over
the other: either is whole.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
import sys
import tempfile

_MAGIC = b"pydeploy.wsgi template 1\n"


def _releases():
    import ansible.release  # noqa: PLC0415
    import jinja2  # noqa: PLC0415

    return f"{sys.implementation.cache_tag}-ansible-core-{ansible.release.__version__}-jinja2-{jinja2.__version__}"


def folder():
    """The cache's folder, or None where the cache is off."""
    configured = os.environ.get("PYDEPLOY_TEMPLATE_CACHE_DIR")
    if configured is not None:
        return configured or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pydeploy.wsgi", "templates")


def key(*parts):
    """The digest a template is kept under: its text and compile options."""
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _own_folder(path):
    """Whether path is a folder of this user's that no one else may write."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022


class Store:
    """The kept code of this Python, ansible-core and Jinja: get() a
    template's, add() one compiled now."""

    def __init__(self, directory=None):
        base = folder() if directory is None else directory
        self.base = base or None
        self.directory = os.path.join(base, _releases()) if base else None

    def _path(self, digest):
        return os.path.join(self.directory, digest[:2], digest[2:])

    def get(self, digest):
        """The code kept under digest, or None (none kept, or not safe to run)."""
        if not self.directory:
            return None
        try:
            descriptor = os.open(self._path(digest), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
                return None
            data = handle.read()
        if not data.startswith(_MAGIC):
            return None
        try:
            code = marshal.loads(data[len(_MAGIC):])
        except (EOFError, ValueError, TypeError):
            return None
        return code if hasattr(code, "co_code") else None

    def add(self, digest, code):
        """Keeps code under digest; a cache that cannot be written is no
        error (the next run compiles again)."""
        if not self.directory:
            return
        shard = os.path.dirname(self._path(digest))
        try:
            for path in (self.base, self.directory, shard):
                os.makedirs(path, mode=0o700, exist_ok=True)
            # Every folder on the way the user's alone: a file in another's is not written.
            if not all(_own_folder(path) for path in (self.base, self.directory, shard)):
                return
            descriptor, temporary = tempfile.mkstemp(dir=shard, prefix=".new-")
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(_MAGIC + marshal.dumps(code))
                os.replace(temporary, self._path(digest))
            except BaseException:
                os.unlink(temporary)
                raise
        except (OSError, ValueError):
            return
