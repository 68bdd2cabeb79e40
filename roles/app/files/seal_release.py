"""Seals a release the app user built: root's from then on, without following a link.

argv: the release folder, the app's group, then interpreter paths that links
in venv/bin/ may point at (the venv's python). With --code first, only the
code is checked (right after it is unpacked, before anything of it runs or
is built): nothing is changed, and a venv of the code's own is refused too.

The app user built the release (its code unpacked, its venv, its
dependencies' builds), so nothing in it is trusted. Every folder and file
becomes root's, readable by the app's group, writable by root only, without
set-user-ID, set-group-ID or sticky bits; what the source let others read
stays readable (static files for the front end). Folders are sealed before
their contents are listed (top down, by file descriptor, never through a
link), so nothing the app adds meanwhile is missed; a second walk then finds
everything sealed, or the release is refused.

Refused, naming the file: a link whose target is outside the release (or
absolute, but for the venv's interpreter), a hard link to a file outside
it, anything but folders, files and links (FIFOs, sockets, devices), and
.pydeploy, the folder of the role's own records. Exits 1 with the reasons,
one per line; prints nothing on success.
"""

import grp
import os
import stat
import sys

MAX_LINKS = 40


def resolve(parts, link_of):
    """Follows a path (a list of names from the release's top) inside the
    release; None if it leaves it (through "..", an absolute link, or a
    chain of links too long)."""
    done, todo, hops = [], list(parts), 0
    while todo:
        name = todo.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            if not done:
                return None
            done.pop()
            continue
        target = link_of("/".join(done + [name]))
        if target is None:
            done.append(name)
            continue
        hops += 1
        if hops > MAX_LINKS or target.startswith("/"):
            return None
        todo = target.split("/") + todo
    return done


def main():
    args = sys.argv[1:]
    code_only = args[:1] == ["--code"]
    if code_only:
        args = args[1:]
    top, group = args[0], args[1]
    interpreters = set(args[2:]) | {os.path.realpath(path) for path in args[2:]}
    gid = grp.getgrnam(group).gr_gid
    problems, links, inodes = [], {}, {}

    def seal(name, dir_fd, info, is_dir):
        if code_only:
            return
        mode = stat.S_IMODE(info.st_mode) & 0o755
        mode |= 0o750 if is_dir else 0o640
        if not is_dir and mode & 0o111:
            mode |= 0o110
        os.chown(name, 0, gid, dir_fd=dir_fd, follow_symlinks=False)
        os.chmod(name, mode, dir_fd=dir_fd)

    top_fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    seal(".", top_fd, os.fstat(top_fd), True)
    for walk in (1, 2):
        for dirpath, dirnames, filenames, dir_fd in os.fwalk(".", dir_fd=top_fd, follow_symlinks=False):
            rel = os.path.normpath(dirpath)
            for name in dirnames + filenames:
                path = name if rel == "." else f"{rel}/{name}"
                info = os.lstat(name, dir_fd=dir_fd)
                if path == ".pydeploy":
                    problems.append(f"{path}: the code may not hold .pydeploy, the folder of the role's own records")
                elif path == "venv" and code_only:
                    problems.append(f"{path}: the code may not hold venv, the release's virtualenv (the build makes it)")
                elif stat.S_ISLNK(info.st_mode):
                    links[path] = os.readlink(name, dir_fd=dir_fd)
                    if walk == 1 and not code_only:
                        os.chown(name, 0, gid, dir_fd=dir_fd, follow_symlinks=False)
                elif stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
                    if walk == 1:
                        seal(name, dir_fd, info, stat.S_ISDIR(info.st_mode))
                    elif not code_only and info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH | stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX):
                        problems.append(f"{path}: changed while the release was sealed (uid {info.st_uid}, mode {info.st_mode:o})")
                    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                        inodes.setdefault(info.st_ino, [info.st_nlink, []])[1].append(path)
                elif walk == 1:
                    problems.append(f"{path}: a FIFO, socket or device; a release holds folders, files and links only")
        if walk == 1:
            inodes.clear()
    # The venv's own links to its interpreter count as files of the release.
    inside = {path: target for path, target in links.items() if not (path.startswith("venv/bin/") and target in interpreters)}
    for path, target in sorted(inside.items()):
        parent = path.split("/")[:-1]
        if target.startswith("/") or resolve(parent + target.split("/"), inside.get) is None:
            problems.append(f"{path}: a link to {target}, outside the release")
    for nlink, paths in inodes.values():
        if len(paths) < nlink:
            problems.append(f"{paths[0]}: a hard link to a file outside the release ({nlink} links)")
    if problems:
        sys.exit("\n".join(sorted(set(problems))))


if __name__ == "__main__":
    main()
