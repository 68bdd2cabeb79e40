# Copyright: pydeploy.wsgi contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Action of pydeploy.wsgi.pack_source: the app's source, packed on the
controller into an archive named after its content.

Python's own tarfile and gzip, so any controller ansible-core supports packs
the same bytes (no GNU tar, whose --sort and --mode macOS's tar lacks): the
folder's entries sorted by name, every timestamp 0, owner and group 0 with
no names, no gzip name or time; group and others get what the owner may
read and run, never write, and folders are traversable; setuid, setgid and
sticky bits are dropped. A git commit is packed by `git archive`, which is
reproducible by itself. Either goes to a file of its own first, then is
renamed (os.replace, atomic) to <prefix>-<sha256>.tar.gz: runs side by side
never read each other's half-written archive. Archives of earlier days (and
.part files a cut-short run left) are removed.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import os
import subprocess
import tarfile
import tempfile
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

# What GNU tar's --exclude-vcs leaves out: version control's folders and files.
VCS = (
    ".git", ".gitignore", ".gitattributes", ".gitmodules", ".svn", ".hg", ".hgignore", ".hgtags", ".bzr",
    ".bzrignore", ".bzrtags", "CVS", ".cvsignore", "RCS", "SCCS", "_darcs", "{arch}", ".arch-ids", ".arch-inventory",
)
DAY = 86400


def excluded(name, patterns):
    """Whether a member (its path in the folder, "/"-separated) is left out:
    a pattern matches the path or any tail of it after a "/", "*" matching
    "/" too (GNU tar's --exclude, unanchored, with wildcards)."""
    parts = name.split("/")
    if parts[-1] in VCS:
        return True
    tails = ["/".join(parts[number:]) for number in range(len(parts))]
    return any(fnmatch.fnmatchcase(tail, pattern) for pattern in patterns for tail in tails)


def normal_mode(mode, is_dir):
    """u+rwX,go+X,go-w without the setuid, setgid and sticky bits."""
    mode &= 0o777
    mode |= 0o600
    if is_dir or mode & 0o111:
        mode |= 0o111
    return mode & ~0o022


def members_below(folder, relative, patterns):
    """(path on disk, name in the archive) of what the folder holds, depth
    first, each folder's entries sorted by name (GNU tar's --sort=name)."""
    for entry in sorted(os.scandir(folder), key=lambda entry: entry.name.encode("utf-8", "surrogateescape")):
        name = f"{relative}{entry.name}"
        if excluded(name, patterns):
            continue
        yield entry.path, f"./{name}"
        if entry.is_dir(follow_symlinks=False):
            yield from members_below(entry.path, f"{name}/", patterns)


def pack_folder(src, patterns, out):
    """Writes the folder's reproducible .tar.gz to the open file `out`."""
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as archive:
            for path, name in [(src, ".")] + list(members_below(src, "", patterns)):
                info = archive.gettarinfo(path, arcname=name)
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = normal_mode(info.mode, info.isdir())
                if info.isreg():
                    with open(path, "rb") as content:
                        archive.addfile(info, content)
                else:
                    archive.addfile(info)


def expand(value):
    """An option of type path as Ansible reads it: ~ and $VARS expanded."""
    return os.path.expanduser(os.path.expandvars(value)) if isinstance(value, str) and value else value


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as content:
        for block in iter(lambda: content.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remove_old(dest, now):
    """Archives and .part files older than a day; a run in progress renamed
    its own moments ago. Returns their names."""
    removed = []
    for entry in os.scandir(dest):
        if not (entry.name.endswith((".tar.gz", ".tar.gz.part")) and entry.is_file(follow_symlinks=False)):
            continue
        # Another run side by side may rename its .part file, or remove the
        # same old archive, between the listing and this look: gone is fine.
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime > DAY:
                os.unlink(entry.path)
                removed.append(entry.name)
        except FileNotFoundError:
            continue
    return sorted(removed)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("src", "git_dir", "version", "dest", "prefix", "excludes"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        # Paths as Ansible reads an option of type path: ~ and $VARS expanded.
        dest, src, git_dir = (expand(args.get(name)) for name in ("dest", "src", "git_dir"))
        prefix = args.get("prefix")
        excludes = args.get("excludes") or []
        if not dest:
            raise AnsibleActionFail("pack_source: dest must be a folder on the controller")
        if not os.path.isdir(dest):
            # The controller's cache of the app's sources: its owner's only.
            try:
                os.makedirs(dest, mode=0o700)
            except FileExistsError:
                pass
            except OSError as ex:
                raise AnsibleActionFail(f"pack_source: could not make the folder {dest} on the controller: {ex.strerror}") from ex
        if not os.path.isdir(dest):
            raise AnsibleActionFail(f"pack_source: dest {dest} is not a folder on the controller")
        if not isinstance(prefix, str) or not prefix.isidentifier():
            raise AnsibleActionFail(f"pack_source: prefix must be a word such as dir or git (got {prefix!r})")
        if bool(src) == bool(git_dir):
            raise AnsibleActionFail("pack_source: give either src (a folder) or git_dir and version (a commit)")
        if not isinstance(excludes, list) or not all(isinstance(pattern, str) for pattern in excludes):
            raise AnsibleActionFail("pack_source: excludes must be a list of patterns")
        if src and not os.path.isdir(src):
            raise AnsibleActionFail(f"pack_source: src {src} is not a folder on the controller")
        part = tempfile.NamedTemporaryFile(dir=dest, prefix=f"{prefix}-", suffix=".tar.gz.part", delete=False)
        try:
            with part:
                if src:
                    # The folder a link names is packed, as tar --directory enters it.
                    pack_folder(os.path.realpath(src), excludes, part)
                else:
                    self._git_archive(git_dir, args.get("version"), part)
            checksum = sha256(part.name)
            path = os.path.join(dest, f"{prefix}-{checksum}.tar.gz")
            os.replace(part.name, path)
        except BaseException:
            if os.path.exists(part.name):
                os.unlink(part.name)
            raise
        result.update(changed=False, path=path, sha256=checksum, removed=remove_old(dest, time.time()))
        return result

    @staticmethod
    def _git_archive(git_dir, version, out):
        if not version:
            raise AnsibleActionFail("pack_source: git_dir needs version, the commit to pack")
        done = subprocess.run(
            ["git", "-C", git_dir, "archive", "--format=tar.gz", version], stdout=out, stderr=subprocess.PIPE, check=False
        )
        if done.returncode != 0:
            raise AnsibleActionFail(f"pack_source: git archive of {version} failed: {done.stderr.decode(errors='replace')[-500:]}")
