"""Builds a release's wheelhouse on the controller (app_wheelhouse_builder:
controller), in one step a host runs
(so the next host of the batch finds it built): the wheels of the pip
arguments into WHEELS, then WHEELS packed into ARCHIVE, written aside and
renamed, so that no host ever takes a half-written archive.

    python build_wheelhouse.py WHEELS ARCHIVE PIP_WHEEL_ARGUMENTS...

Nothing of the app's runs here, on the operator's machine: wheels only
(--only-binary=:all:, so no sdist's build script runs), and no direct
reference (a path, a URL, a VCS link, -e), which pip would build whatever
--only-binary says; those are refused, naming the file and line, before pip
starts. pip runs without the SSH agent or the vault's settings.
"""

import os
import re
import subprocess
import sys
import tarfile

from packaging.requirements import InvalidRequirement, Requirement

# Options a requirements file may hold: where wheels come from, and hashes.
SAFE_OPTIONS = re.compile(r"(-i|--index-url|--extra-index-url|-f|--find-links|--prefer-binary|--only-binary|--hash|--trusted-host)(=|\s|\Z)")
NESTED = re.compile(r"(-r|--requirement|-c|--constraint)(=|\s+)(\S+)\Z")
# What the controller's environment holds that a build script must never get.
SECRETS = re.compile(r"^(SSH_AUTH_SOCK|SSH_AGENT_PID|ANSIBLE_VAULT_.*|.*_TOKEN|.*_PASSWORD)\Z")


class Refused(Exception):
    pass


def check_spec(spec, where):
    """A pip argument or requirement line must name a package, not a place."""
    text = re.split(r"\s--hash|\s#", spec, maxsplit=1)[0].strip()
    if text.startswith("-"):
        raise Refused(f"{where}: {text} builds from source (only named requirements are taken)")
    try:
        requirement = Requirement(text)
    except InvalidRequirement as error:
        raise Refused(f"{where}: {text} is a path or URL, not a named requirement ({error})") from error
    if requirement.url:
        raise Refused(f"{where}: {text} is a direct reference ({requirement.url})")


def check_file(path, seen):
    path = os.path.realpath(path)
    if path in seen:
        return
    seen.add(path)
    with open(path, encoding="utf-8") as handle:
        text = re.sub(r"\\\n", " ", handle.read())
    for number, line in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        where = f"{path}:{number}"
        if not line:
            continue
        nested = NESTED.match(line)
        if nested:
            check_file(os.path.join(os.path.dirname(path), nested.group(3)), seen)
        elif line.startswith("-"):
            if not SAFE_OPTIONS.match(line):
                raise Refused(f"{where}: {line} is not taken for a wheelhouse (only named requirements, indexes, hashes)")
        else:
            check_spec(line, where)


def check(pip_args):
    """Refuses what pip would build: only named requirements, wheel files."""
    args, seen = list(pip_args), set()
    while args:
        arg = args.pop(0)
        if arg in ("--requirement", "-r"):
            check_file(args.pop(0), seen)
        elif arg.endswith(".whl") and os.path.isfile(arg):
            continue
        else:
            check_spec(arg, "app_package, app_pip_packages or app_server_packages")


def main():
    wheels, archive, pip_args = sys.argv[1], sys.argv[2], sys.argv[3:]
    try:
        check(pip_args)
    except Refused as error:
        sys.exit(
            f"app_wheelhouse: {error}. The controller builds no code of the app's: publish the package as a wheel, "
            "or set app_wheelhouse_builder: host so that the first app host builds it, as the app user."
        )
    env = {name: value for name, value in os.environ.items() if not SECRETS.match(name)}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--only-binary=:all:", "--wheel-dir", wheels, *pip_args],
        check=True,
        env=env,
    )
    with tarfile.open(archive + ".part", "w") as tar:
        for name in sorted(os.listdir(wheels)):
            tar.add(os.path.join(wheels, name), arcname=name)
    os.replace(archive + ".part", archive)


if __name__ == "__main__":
    main()
