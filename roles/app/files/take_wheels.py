"""Root takes the wheelhouse a build unit made as the app user, without
trusting it: ARCHIVE (a tar the app user wrote, in BUILD, a folder of the
app user's inside one of root's) is opened without following a link, and
only its regular files named like wheels, at its top, are written into a
new archive OUT (written aside and renamed). Root never unpacks what the app
user packed: the hosts unpack OUT, which holds nothing but plain files.

    python3 take_wheels.py BUILD ARCHIVE OUT
"""

import os
import re
import stat
import sys
import tarfile

WHEEL = re.compile(r"[A-Za-z0-9_.+!-]+\.whl\Z")


def main():
    build, name, out = sys.argv[1:4]
    folder = os.open(build, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    finally:
        os.close(folder)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        sys.exit(f"{build}/{name} is not a plain file")
    taken = []
    with os.fdopen(fd, "rb") as handle, tarfile.open(fileobj=handle, mode="r:") as source:
        with tarfile.open(out + ".part", "w") as target:
            for member in source:
                path = member.name.removeprefix("./")
                if member.isdir() and path in ("", "."):
                    continue
                if not member.isreg() or not WHEEL.match(path):
                    sys.exit(f"the wheelhouse holds {member.name!r}, which is not a wheel file at its top")
                clean = tarfile.TarInfo(path)
                clean.size, clean.mode, clean.mtime = member.size, 0o644, member.mtime
                target.addfile(clean, source.extractfile(member))
                taken.append(path)
    os.replace(out + ".part", out)
    print(len(taken))


if __name__ == "__main__":
    main()
