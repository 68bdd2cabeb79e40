# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Compiled Jinja templates kept from one run to the next, for the
collection's controller-side actions (pydeploy.wsgi.check_inputs and
pydeploy.wsgi.converged, through roles.templates_compiled_once).

ansible-core compiles a template at every use and keeps nothing from one
process to the next: the input checks of every run compiled the same 130 to
190 templates again, 0.3-0.6 s of CPU a run (docs/docsite/rst/benchmarks.rst).
Here the Python code Jinja makes of a template is kept in one file a user,
Python, ansible-core and Jinja release, as Jinja's own bytecode cache keeps
it for templates loaded from files, keyed by a digest of the template's text,
its compile options and its folder. Rendering is Ansible's, as before; a
template that does not compile is compiled by Ansible again, to fail as
Ansible fails. What the code depends on beyond the key (the filters and tests
a template names are looked up when it renders, as Jinja's code does) is the
releases the file is named after.

The file is in PYDEPLOY_TEMPLATE_CACHE_DIR (default
$XDG_CACHE_HOME/pydeploy.wsgi/templates, or ~/.cache/...; empty: no cache),
a folder of the user's alone (0700). A file that is a link, not the user's, or
writable by anyone else is not read (its code would run): it is replaced.
Two runs that add templates at once each replace the file whole (written
aside, then renamed): the last one's is kept, the other's compiled again the
next time.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
import sys
import tempfile

# A file beyond this (a cache that kept growing with templates of many
# checkouts) is started anew.
MAX_ENTRIES = 20000
_MAGIC = b"pydeploy.wsgi templates 1\n"


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
    """The digest a template is kept under: its text, options and folder."""
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()


class Store:
    """The kept code of one file: get() and add(), then save() once."""

    def __init__(self, directory=None):
        self.directory = folder() if directory is None else directory
        self.path = os.path.join(self.directory, _releases() + ".marshal") if self.directory else None
        self.entries = {}
        self.new = {}
        if self.path:
            self.entries = self._read()

    def _read(self):
        try:
            descriptor = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return {}
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
                return {}
            with os.fdopen(descriptor, "rb") as handle:
                descriptor = None
                data = handle.read()
        finally:
            if descriptor is not None:
                os.close(descriptor)
        if not data.startswith(_MAGIC):
            return {}
        try:
            entries = marshal.loads(data[len(_MAGIC):])
        except (EOFError, ValueError, TypeError):
            return {}
        return entries if isinstance(entries, dict) else {}

    def get(self, digest):
        return self.entries.get(digest)

    def add(self, digest, code):
        if self.path:
            self.entries[digest] = self.new[digest] = code

    def save(self):
        """Writes the file if templates were added; a cache that cannot be
        written is no error (the next run compiles again)."""
        if not self.new or not self.path:
            return
        entries = self.entries if len(self.entries) <= MAX_ENTRIES else self.new
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            info = os.lstat(self.directory)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
                return
            descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".templates-")
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(_MAGIC + marshal.dumps(entries))
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except (OSError, ValueError):
            return
        self.new = {}
