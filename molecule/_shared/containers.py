"""Makes or removes a scenario's containers and their networks with the
Docker CLI, as Molecule's Docker driver would (the platform keys of
molecule/*/molecule.yml mean what they mean to its docker_container task).

    containers.py create|destroy < platforms.json

The scenarios' create and destroy playbooks (create.yml, destroy.yml beside
this file) pass molecule_yml's platforms on stdin. One process and one
`docker` command a container instead of the driver's playbooks (a module, a
Python and an async job polled a second for each container, in every
scenario's create and both destroys). A platform key this does not know
fails the run, naming it: none is ignored.
"""

import json
import shlex
import subprocess
import sys

KNOWN = {
    "name", "hostname", "image", "pre_build_image", "command", "privileged", "capabilities", "security_opts",
    "cgroupns_mode", "volumes", "tmpfs", "published_ports", "networks", "docker_networks", "env", "groups",
}
# Docker's own networks: never made nor removed.
PREDEFINED = {"bridge", "host", "none"}
LABEL = "pydeploy.molecule=1"


def docker(*args, check=True):
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        sys.exit(f"docker {shlex.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def networks(platforms):
    """{name: subnet or None}: every network a platform names, in order."""
    found = {}
    for platform in platforms:
        for network in platform.get("docker_networks") or []:
            subnets = [config["subnet"] for config in network.get("ipam_config") or [] if "subnet" in config]
            found[network["name"]] = subnets[0] if subnets else None
        for network in platform.get("networks") or []:
            found.setdefault(network["name"], None)
    return {name: subnet for name, subnet in found.items() if name not in PREDEFINED}


def attach_args(network, alias="--alias"):
    """The options giving a container its aliases and address on a network
    (`docker run` names the alias option --network-alias)."""
    args = [f"{alias}={name}" for name in network.get("aliases") or []]
    if network.get("ipv4_address"):
        args.append(f"--ip={network['ipv4_address']}")
    return args


def create(platforms):
    for name, subnet in networks(platforms).items():
        if docker("network", "inspect", name, check=False).returncode != 0:
            docker("network", "create", f"--label={LABEL}", *([f"--subnet={subnet}"] if subnet else []), name)
    for platform in platforms:
        name = platform["name"]
        if docker("container", "inspect", name, check=False).returncode == 0:
            # As the driver's recreate: false, a container there is kept (and started).
            docker("start", name)
            continue
        run = ["run", "--detach", f"--name={name}", f"--hostname={platform.get('hostname', name)}", f"--label={LABEL}"]
        if platform.get("privileged"):
            run.append("--privileged")
        run += [f"--cap-add={cap}" for cap in platform.get("capabilities") or []]
        run += [f"--security-opt={option}" for option in platform.get("security_opts") or []]
        if platform.get("cgroupns_mode"):
            run.append(f"--cgroupns={platform['cgroupns_mode']}")
        run += [f"--volume={volume}" for volume in platform.get("volumes") or []]
        run += [f"--tmpfs={mount}" for mount in platform.get("tmpfs") or []]
        run += [f"--publish={port}" for port in platform.get("published_ports") or []]
        run += [f"--env={key}={value}" for key, value in (platform.get("env") or {}).items()]
        # The first network at the start, the others connected before the container is used (as the
        # driver's networks_cli_compatible: on the networks listed only).
        attached = platform.get("networks") or []
        if attached:
            run += [f"--network={attached[0]['name']}", *attach_args(attached[0], "--network-alias")]
        run.append(platform["image"])
        run += shlex.split(platform["command"]) if platform.get("command") else []
        docker(*run)
        for network in attached[1:]:
            docker("network", "connect", *attach_args(network), network["name"], name)


def destroy(platforms):
    names = [platform["name"] for platform in platforms]
    # Removed whatever their state; a container not there is no error.
    docker("rm", "--force", "--volumes", *names, check=False)
    for name in networks(platforms):
        if docker("network", "inspect", name, check=False).returncode == 0:
            docker("network", "rm", name)


def main(action):
    platforms = json.load(sys.stdin)
    for platform in platforms:
        unknown = sorted(set(platform) - KNOWN)
        if unknown:
            sys.exit(f"platform {platform.get('name')}: molecule/_shared/containers.py does not know {', '.join(unknown)}")
        if not platform.get("pre_build_image", False):
            sys.exit(f"platform {platform['name']}: only pre-built images (pre_build_image: true) are made here")
    {"create": create, "destroy": destroy}[action](platforms)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("create", "destroy"):
        sys.exit(__doc__)
    main(sys.argv[1])
