"""Builds a release's wheelhouse on the controller, in one step a host runs
(so the next host of the batch finds it built): the wheels of the pip
arguments into WHEELS, then WHEELS packed into ARCHIVE, written aside and
renamed, so that no host ever takes a half-written archive.

    python build_wheelhouse.py WHEELS ARCHIVE PIP_WHEEL_ARGUMENTS...
"""

import os
import subprocess
import sys
import tarfile


def main():
    wheels, archive, pip_args = sys.argv[1], sys.argv[2], sys.argv[3:]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", wheels, *pip_args], check=True)
    with tarfile.open(archive + ".part", "w") as tar:
        for name in sorted(os.listdir(wheels)):
            tar.add(os.path.join(wheels, name), arcname=name)
    os.replace(archive + ".part", archive)


if __name__ == "__main__":
    main()
