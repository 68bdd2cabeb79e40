# shellcheck shell=bash
# Shared helpers for scripts/demo, scripts/test and scripts/image.
# Everything here is idempotent: a second call finds its work done and returns.
set -euo pipefail

PYDEPLOY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYDEPLOY_VENV=${PYDEPLOY_VENV:-$PYDEPLOY_ROOT/.venv}
# What the test bed builds and keeps between checkouts (as Docker keeps its
# images): the virtualenvs, one per requirements and Python
# (PYDEPLOY_VENV links to its own), and scripts/cores' homes. A fresh clone
# (CI's) reuses what the same requirements built before.
PYDEPLOY_DEV_CACHE=${PYDEPLOY_DEV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pydeploy-dev}
# The systemd image every container host boots. Set PYDEPLOY_IMAGE to use your
# own (it is pulled if it is not present); the default one is built here.
PYDEPLOY_DEFAULT_IMAGE=pydeploy/debian12-systemd:latest
PYDEPLOY_IMAGE=${PYDEPLOY_IMAGE:-$PYDEPLOY_DEFAULT_IMAGE}
# The Debian 13 (trixie) hosts of the debian13 scenario boot from its own
# image, built the same way; PYDEPLOY_DEBIAN13_IMAGE names one of your own.
PYDEPLOY_DEFAULT_DEBIAN13_IMAGE=pydeploy/debian13-systemd:latest
PYDEPLOY_DEBIAN13_IMAGE=${PYDEPLOY_DEBIAN13_IMAGE:-$PYDEPLOY_DEFAULT_DEBIAN13_IMAGE}
PYDEPLOY_DEBIAN_MIRROR=${PYDEPLOY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The test hosts of every scenario but default start from a second image: the
# base one with the Debian packages the roles and the tests install already
# there (as apt installs them: with recommends), so that each scenario does
# not download and unpack them again. The default scenario converges from the
# base image and keeps the install path tested. Its tag is a hash of the base
# image and this list: a change to either builds it anew.
PYDEPLOY_PACKAGES_IMAGE_REPO=pydeploy/debian12-systemd-packages
PYDEPLOY_TEST_PACKAGES=(
  python3 python3-venv python3-pip   # python role
  python3-cryptography               # tls role
  nginx logrotate                    # nginx and logrotate roles
  apache2 libapache2-mod-wsgi-py3    # apache role
  curl openssl                       # molecule/_shared/prepare.yml
  pebble                             # the ACME CA of the acme scenario
  python3-aiosmtpd                   # the acme scenario's mail sink (alerts)
  certbot nftables unattended-upgrades  # the host's own care (issue 30)
)
# Installed, the front ends would both start at boot and race for port 80:
# in the image they are off, as on a host without them; the roles enable the
# one a scenario uses.
PYDEPLOY_TEST_SERVICES_OFF=(nginx apache2)
# The controller image of scripts/cores: the Debian 13 image with venv and
# the tools the controller tests run (git archive, unzip).
PYDEPLOY_CONTROLLER_IMAGE_REPO=pydeploy/debian13-controller
PYDEPLOY_CONTROLLER_PACKAGES=(python3-venv git unzip)
export PYDEPLOY_ROOT PYDEPLOY_VENV PYDEPLOY_DEV_CACHE PYDEPLOY_IMAGE PYDEPLOY_DEBIAN13_IMAGE

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

__apt_updated=
apt_install() {
  # Installs the Debian packages among "$@" that are missing, with one apt run.
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "Installing Debian packages: ${missing[*]}"
  if [ -z "$__apt_updated" ]; then as_root apt-get update -qq; __apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
  # The project virtualenv with the pinned tools: requirements.txt, or the
  # file PYDEPLOY_REQUIREMENTS names (scripts/cores: the same tools on
  # another ansible-core). Built once per requirements and Python in
  # PYDEPLOY_DEV_CACHE, marked complete last (a cut build is built again),
  # and not rebuilt after (bench/run adds its plotting library to it):
  # PYDEPLOY_VENV links to it.
  local requirements=${PYDEPLOY_REQUIREMENTS:-$PYDEPLOY_ROOT/requirements.txt} key venv
  key=$({ cat "$requirements"; python3 -VV; } | sha256sum | cut -c1-16)
  venv="$PYDEPLOY_DEV_CACHE/venvs/$key"
  if [ ! -f "$venv/.complete" ]; then
    python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
    mkdir -p "$PYDEPLOY_DEV_CACHE/venvs"
    (
      # One build when several checkouts or containers ask at once.
      flock 9
      if [ ! -f "$venv/.complete" ]; then
        log "Creating the project virtualenv in $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --upgrade pip
        "$venv/bin/pip" install -q -r "$requirements"
        touch "$venv/.complete"
      fi
    ) 9>"$venv.lock"
  fi
  if [ "$(readlink "$PYDEPLOY_VENV" 2>/dev/null)" != "$venv" ]; then
    # A virtualenv of an earlier layout in its place goes.
    [ -L "$PYDEPLOY_VENV" ] || rm -rf "$PYDEPLOY_VENV"
    mkdir -p "$(dirname "$PYDEPLOY_VENV")"
    ln -sfn "$venv" "$PYDEPLOY_VENV"
  fi
  # Once, and the virtualenv's own folder rather than the link's:
  # ansible-lint warns of a broken setup when PATH holds it twice, or lacks
  # its Python's folder as that Python names it.
  case ":$PATH:" in
    *":$venv/bin:"*) ;;
    *) export PATH="$venv/bin:$PATH" ;;
  esac
  export ANSIBLE_CONFIG="$PYDEPLOY_ROOT/ansible.cfg"
  # The compiled templates the runs keep (plugins/plugin_utils/template_cache.py;
  # every template of the test bed's strategy, mitogen_linear_cached) in the
  # checkout's cache, as Mitogen's answers (.cache/mitogen): a fresh clone
  # compiles what its own runs use first, as a new user's first run does.
  export PYDEPLOY_TEMPLATE_CACHE_DIR="${PYDEPLOY_TEMPLATE_CACHE_DIR-$PYDEPLOY_ROOT/.cache/templates}"
}

mitogen_strategy_env() {
  # The variables that put a playbook run on Mitogen for Ansible's
  # mitogen_linear strategy (the active venv's ansible_mitogen), with the
  # containers' Python named: over a docker connection Mitogen discovers
  # the interpreter again for every task (ansible_mitogen/connection.py,
  # rediscover_python), which took a fifth of the controller's CPU and a
  # third of the wall time of an idempotent site.yml run (side by side,
  # one converged host: 55-57 s against 35-39 s). Over SSH the discovered
  # interpreter is kept in the facts, as with the linear strategy.
  #
  # And only the collections the runs use: on Mitogen every task that runs a
  # collection's module lists every collection installed (the planner's
  # _load_collections, in a worker forked afresh for each task) and puts
  # each on the path it scans the module's imports in; the `ansible`
  # package's 90-odd collections cost 12-17% of a run's controller CPU
  # (docs/docsite/rst/benchmarks.rst). Ansible's own strategy is not affected.
  #
  # The strategy is the test bed's mitogen_linear_cached
  # (molecule/_shared/strategy_plugins): Mitogen's mitogen_linear from the
  # active venv, with the minified sources of its modules and its scans of
  # each module's imports kept in .cache/mitogen across runs (the same
  # answers, 0.7 of a short run's 4.3 controller CPU seconds). bench/ and
  # users run Mitogen's own.
  local collections
  collections=$(used_collections)
  printf '%s\n' "ANSIBLE_STRATEGY_PLUGINS=$PYDEPLOY_ROOT/molecule/_shared/strategy_plugins" ANSIBLE_STRATEGY=mitogen_linear_cached \
    "PYDEPLOY_MITOGEN_CACHE=$PYDEPLOY_ROOT/.cache/mitogen" ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 \
    "ANSIBLE_COLLECTIONS_PATH=$PYDEPLOY_ROOT/collections:$collections" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
}

used_collections() {
  # Prints a folder holding (as links into the active venv's `ansible`
  # package) the collections the playbooks and the test bed use: galaxy.yml's
  # dependencies, community.docker (the containers' connection), ansible.posix
  # (scripts/test --profile's callback) and what each of them depends on.
  # Made once a venv; several scenarios starting at once each make their own
  # copy and rename it into place (the first wins, the others are dropped).
  python3 - "$PYDEPLOY_ROOT/galaxy.yml" <<'PY'
import hashlib, json, os, shutil, sys, tempfile
import ansible_collections, yaml

wanted = sorted(yaml.safe_load(open(sys.argv[1]))["dependencies"]) + ["community.docker", "ansible.posix"]
# A folder per list: another galaxy.yml gets its own.
folder = os.path.join(sys.prefix, "pydeploy-collections-" + hashlib.sha256(" ".join(wanted).encode()).hexdigest()[:12])
if not os.path.isdir(folder):
    installed = {}
    for root in ansible_collections.__path__:
        for namespace in sorted(os.listdir(root)):
            for name in sorted(os.listdir(os.path.join(root, namespace))) if os.path.isdir(os.path.join(root, namespace)) else ():
                installed.setdefault(f"{namespace}.{name}", os.path.join(root, namespace, name))
    chosen = {}
    while wanted:
        name = wanted.pop()
        if name in chosen:
            continue
        if name not in installed:
            sys.exit(f"used_collections: {name} is not in the `ansible` package of {sys.prefix}")
        chosen[name] = installed[name]
        manifest = os.path.join(installed[name], "MANIFEST.json")
        if os.path.exists(manifest):
            wanted += list(json.load(open(manifest))["collection_info"].get("dependencies") or {})
    new = tempfile.mkdtemp(prefix=".pydeploy-collections.", dir=sys.prefix)
    for name, path in chosen.items():
        namespace, collection = name.split(".")
        os.makedirs(os.path.join(new, "ansible_collections", namespace), exist_ok=True)
        os.symlink(path, os.path.join(new, "ansible_collections", namespace, collection))
    try:
        os.rename(new, folder)
    except OSError:
        # Another run's copy got there first.
        shutil.rmtree(new)
print(folder)
PY
}

ensure_docker() {
  # A running Docker engine: Debian's docker.io, and dockerd started in the
  # background where no init system starts it.
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  command -v docker >/dev/null 2>&1 || apt_install docker.io
  docker info >/dev/null 2>&1 && return 0
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    as_root systemctl start docker
  else
    log "Starting dockerd in the background (log: /var/log/pydeploy-dockerd.log)"
    as_root sh -c 'nohup dockerd >/var/log/pydeploy-dockerd.log 2>&1 &'
  fi
  local i
  for i in $(seq 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "the Docker engine did not start; see /var/log/pydeploy-dockerd.log"
}

ensure_image() {
  # ensure_image [IMAGE CODENAME]: a systemd base image (by default
  # $PYDEPLOY_IMAGE, Debian 12), built with debootstrap under our default
  # names, pulled under any other name the user chose.
  local image=${1:-$PYDEPLOY_IMAGE} codename=${2:-bookworm}
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  case "$image" in
    "$PYDEPLOY_DEFAULT_IMAGE" | "$PYDEPLOY_DEFAULT_DEBIAN13_IMAGE") build_image "$image" "$codename" ;;
    *)
      log "Pulling $image"
      docker pull "$image" || die "$image can't be pulled; unset the variable that names it to build the default image"
      ;;
  esac
}

build_image() {
  # build_image IMAGE CODENAME
  local image=$1 codename=$2 rootfs
  apt_install debootstrap
  rootfs=$(mktemp -d /var/tmp/pydeploy-rootfs.XXXXXX)
  # shellcheck disable=SC2064
  trap "as_root rm -rf '$rootfs'" RETURN
  log "Building $image with debootstrap ($codename, about a minute)"
  as_root debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,python3,python3-apt,sudo,iproute2,procps,ca-certificates \
    "$codename" "$rootfs" "$PYDEPLOY_DEBIAN_MIRROR" >/dev/null
  # A container has no consoles or kernel to manage, and keeps apt's lists so
  # that a first apt run does not start by downloading them.
  as_root chroot "$rootfs" systemctl mask getty.target systemd-udevd.service \
    systemd-modules-load.service sys-kernel-debug.mount sys-kernel-tracing.mount >/dev/null 2>&1
  as_root rm -f "$rootfs/etc/machine-id" "$rootfs/var/lib/dbus/machine-id"
  as_root touch "$rootfs/etc/machine-id"
  as_root chroot "$rootfs" apt-get clean
  as_root tar -C "$rootfs" -c . | docker import \
    -c 'CMD ["/lib/systemd/systemd"]' \
    -m "pydeploy.wsgi systemd base image (debootstrap $codename)" - "$image" >/dev/null
  log "Built $image"
}

packages_image() {
  # Exports PYDEPLOY_PACKAGES_IMAGE (molecule/*/molecule.yml read it): the
  # packages image's name for the present base image and package list.
  PYDEPLOY_PACKAGES_IMAGE=$(derived_image_name "$PYDEPLOY_PACKAGES_IMAGE_REPO" "$PYDEPLOY_IMAGE" \
    "${PYDEPLOY_TEST_PACKAGES[*]}" "${PYDEPLOY_TEST_SERVICES_OFF[*]}")
  export PYDEPLOY_PACKAGES_IMAGE
}

ensure_packages_image() {
  # The packages image, built if it is missing.
  ensure_image
  packages_image
  ensure_derived_image "$PYDEPLOY_PACKAGES_IMAGE" "$PYDEPLOY_IMAGE" "${PYDEPLOY_TEST_PACKAGES[*]}" \
    "${PYDEPLOY_TEST_SERVICES_OFF[*]}" "pydeploy.wsgi test hosts"
}

ensure_controller_image() {
  # Exports PYDEPLOY_CONTROLLER_IMAGE: the Debian 13 image with what a
  # controller needs (scripts/cores runs the newer ansible-core releases,
  # which need Python 3.12 or later, in it), built if it is missing.
  ensure_image "$PYDEPLOY_DEBIAN13_IMAGE" trixie
  PYDEPLOY_CONTROLLER_IMAGE=$(derived_image_name "$PYDEPLOY_CONTROLLER_IMAGE_REPO" "$PYDEPLOY_DEBIAN13_IMAGE" \
    "${PYDEPLOY_CONTROLLER_PACKAGES[*]}" "")
  export PYDEPLOY_CONTROLLER_IMAGE
  ensure_derived_image "$PYDEPLOY_CONTROLLER_IMAGE" "$PYDEPLOY_DEBIAN13_IMAGE" "${PYDEPLOY_CONTROLLER_PACKAGES[*]}" "" \
    "pydeploy.wsgi controller"
}

derived_image_name() {
  # derived_image_name REPO BASE PACKAGES SERVICES_OFF: REPO tagged with a
  # hash of the base image and the lists, so that a change to either builds
  # it anew.
  local key
  key=$({ docker image inspect -f '{{.Id}}' "$2"; printf '%s\n' $3 "off:" $4; } | sha256sum | cut -c1-12)
  printf '%s:%s\n' "$1" "$key"
}

ensure_derived_image() {
  # ensure_derived_image IMAGE BASE PACKAGES SERVICES_OFF DESCRIPTION: BASE
  # with the Debian PACKAGES installed (as apt installs them: with
  # recommends) and the SERVICES_OFF disabled, committed as IMAGE; earlier
  # builds of IMAGE's repository go.
  local image=$1 base=$2 packages=$3 off=$4 repo=${1%:*} name
  name=pydeploy-image-build-${repo##*/}
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  log "Building $image: $base with $packages"
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run --name "$name" "$base" /bin/sh -c \
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null && apt-get clean \
      ${off:+&& systemctl disable -q $off}" \
    || die "installing $packages into $base failed (above)"
  docker commit -c 'CMD ["/lib/systemd/systemd"]' -m "$5: $packages" "$name" "$image" >/dev/null
  docker rm "$name" >/dev/null
  docker image ls --format '{{.Repository}}:{{.Tag}}' "$repo" | grep -vxF "$image" |
    xargs -r docker image rm >/dev/null 2>&1 || true
  log "Built $image"
}

systemd_run() {
  # Starts a container from our systemd image the way the Molecule platforms
  # do: systemd as PID 1 without --privileged.
  local name=$1
  shift
  docker run -d --name "$name" --hostname "$name" \
    --cap-add SYS_ADMIN --security-opt seccomp=unconfined --cgroupns host \
    -v /sys/fs/cgroup/systemd:/sys/fs/cgroup/systemd:rw \
    --tmpfs /run:rw,exec --tmpfs /run/lock --stop-signal SIGRTMIN+3 \
    "$@" "$PYDEPLOY_IMAGE" /lib/systemd/systemd >/dev/null
  local i
  for i in $(seq 30); do
    case "$(docker exec "$name" systemctl is-system-running 2>/dev/null)" in
      running | degraded) return 0 ;;
    esac
    sleep 1
  done
  die "systemd did not boot in container $name"
}
