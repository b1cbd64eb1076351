#!/usr/bin/env bash
# `make sam-local-setup`: everything `sam local invoke` / `start-lambda` / `start-api` need, idempotent.
#
#   1. Docker (Debian's docker.io) and debootstrap, from apt, when missing (needs root);
#   2. the Docker daemon, started in the background when none answers (log: .sam-local/dockerd.log);
#   3. the Lambda base image public.ecr.aws/lambda/python:3.13-x86_64: pulled when a registry answers,
#      else a stand-in built here (Debian trixie's Python 3.13 + awslambdaric + boto3 in /var/runtime,
#      the layout of the real image), cached as a tarball under .sam-local/;
#   4. the SAM CLI virtualenv (make sam-venv).
# Each step prints its time. Where a step is impossible (no root, no apt), it prints one line saying
# what to install and exits 3; the container tests then skip with that reason.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${SAM_LOCAL_CACHE:-$ROOT/.sam-local}
IMAGE=public.ecr.aws/lambda/python:3.13-x86_64
SUITE=trixie                 # Debian release whose python3 is 3.13
AWSLAMBDARIC_VERSION=4.2.2
BOTO3_VERSION=1.44.5
PYTHON=${PYTHON:-python3}
mkdir -p "$CACHE"
T0=$(date +%s.%N)

say() { printf 'sam-local-setup: %s\n' "$*"; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}s')" "$1" "$(date +%s.%N)"; }
step() {  # step <title> <command...>: run, print the time it took; stop on failure
    local title=$1 start
    shift
    start=$(date +%s.%N)
    say "$title ..."
    if "$@"; then
        say "$title: done in $(elapsed "$start")"
    else
        say "$title: FAILED after $(elapsed "$start")"
        exit 1
    fi
}
cannot() {  # one line, the reason, exit 3
    say "cannot set up: $*"
    exit 3
}
daemon_up() { docker info >/dev/null 2>&1; }
is_root() { [ "$(id -u)" = 0 ]; }

APT_UPDATED=0
apt_install() {  # apt_install <package...>: `apt-get update` at most once per run
    if [ "$APT_UPDATED" = 0 ]; then
        apt-get -o DPkg::Lock::Timeout=300 update -qq || return 1
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >/dev/null
}

# -- 1. packages ------------------------------------------------------------------------------------
# /usr/local/bin/docker may be a client alone: what counts is a daemon (dockerd) and debootstrap.
missing=()
command -v dockerd >/dev/null 2>&1 || daemon_up || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    is_root || cannot "not root: as root, run apt-get install -y ${missing[*]} (then make sam-local-setup)"
    command -v apt-get >/dev/null 2>&1 || cannot "no apt-get: install Docker (a daemon) and debootstrap, then make sam-local-setup"
    step "apt-get install ${missing[*]}" apt_install "${missing[@]}"
else
    say "docker and debootstrap: present"
fi

# -- 2. the daemon ----------------------------------------------------------------------------------
start_dockerd() {
    # setsid + nohup: the daemon outlives this script (and make); its log stays under the cache.
    setsid nohup dockerd >"$CACHE/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        daemon_up && return 0
        sleep 0.5
    done
    say "dockerd did not answer within 30 s; last lines of $CACHE/dockerd.log:"
    tail -n 5 "$CACHE/dockerd.log" >&2
    return 1
}
if daemon_up; then
    say "docker daemon: running"
else
    is_root || cannot "the Docker daemon is not running and this is not root: start it (sudo dockerd &)"
    step "start dockerd (log: $CACHE/dockerd.log)" start_dockerd
fi

# -- 3. the base image ------------------------------------------------------------------------------
ROOTFS_TAR=$CACHE/python3.13-x86_64-$SUITE-ric$AWSLAMBDARIC_VERSION-boto3$BOTO3_VERSION.tar
build_rootfs() {
    local dir=$CACHE/rootfs.tmp
    rm -rf "$dir"
    mkdir -p "$CACHE/debs"
    debootstrap --variant=minbase --arch=amd64 --include=python3,ca-certificates --cache-dir="$CACHE/debs" \
        "$SUITE" "$dir" >"$CACHE/debootstrap.log" 2>&1 || { tail -n 5 "$CACHE/debootstrap.log" >&2; return 1; }
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-warn-script-location --target "$dir/var/runtime" --python-version 3.13 \
        --implementation cp --only-binary=:all: --platform manylinux2014_x86_64 \
        "awslambdaric==$AWSLAMBDARIC_VERSION" "boto3==$BOTO3_VERSION" >"$CACHE/pip.log" 2>&1 ||
        { tail -n 5 "$CACHE/pip.log" >&2; return 1; }
    mkdir -p "$dir/var/lang/bin" "$dir/var/task" "$dir/opt"
    ln -sf /usr/bin/python3.13 "$dir/var/lang/bin/python3.13"
    ln -sf python3.13 "$dir/var/lang/bin/python3"
    ln -sf python3.13 "$dir/var/lang/bin/python"
    # The runtime's sys.path order: task, layers, then the runtime's own boto3.
    cat >"$dir/var/runtime/bootstrap" <<'BOOT'
#!/bin/sh
export PYTHONPATH="/var/task:/opt/python/lib/python3.13/site-packages:/opt/python:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
exec /var/lang/bin/python3.13 -m awslambdaric "$_HANDLER"
BOOT
    cat >"$dir/lambda-entrypoint.sh" <<'ENTRY'
#!/bin/sh
# As in the real image: without the Runtime API (outside Lambda), run under the emulator.
if [ $# -ne 1 ]; then echo "entrypoint requires the handler name to be the first argument" 1>&2; exit 142; fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ] && [ -x /usr/local/bin/aws-lambda-rie ]; then
  exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap
fi
exec /var/runtime/bootstrap
ENTRY
    chmod +x "$dir/var/runtime/bootstrap" "$dir/lambda-entrypoint.sh"
    rm -rf "$dir/var/cache/apt/archives"/*.deb "$dir/var/lib/apt/lists"/* "$dir/usr/share/doc" "$dir/usr/share/man"
    tar -C "$dir" -cf "$ROOTFS_TAR.part" . && mv "$ROOTFS_TAR.part" "$ROOTFS_TAR" && rm -rf "$dir"
}
import_image() {
    docker import \
        -c 'ENV LANG=en_US.UTF-8' -c 'ENV TZ=:/etc/localtime' \
        -c 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
        -c 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
        -c 'ENV LAMBDA_TASK_ROOT=/var/task' -c 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
        -c 'LABEL b24sms.stand-in=true' -c 'WORKDIR /var/task' -c 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
        "$ROOTFS_TAR" "$IMAGE" >/dev/null
}
try_pull() { timeout 20 docker pull -q "$IMAGE" >/dev/null 2>&1; }
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "base image $IMAGE: present"
elif [ "${SAM_LOCAL_PULL:-1}" = 1 ] && try_pull; then
    say "base image $IMAGE: pulled from the registry"
else
    say "base image $IMAGE: no registry answers; building a stand-in"
    if [ ! -s "$ROOTFS_TAR" ]; then
        step "debootstrap $SUITE + awslambdaric $AWSLAMBDARIC_VERSION + boto3 $BOTO3_VERSION" build_rootfs
    else
        say "stand-in root file system: cached ($ROOTFS_TAR)"
    fi
    step "docker import $IMAGE" import_image
fi

# -- 4. the SAM CLI ---------------------------------------------------------------------------------
step "SAM CLI virtualenv (make sam-venv)" make -s sam-venv

py313=$(command -v python3.13 || (pyenv versions --bare 2>/dev/null | grep -qE '^3\.13' && echo pyenv))
[ -n "$py313" ] || say "note: no python3.13 (the Lambda runtime) for sam build: install it (pyenv install 3.13)"
say "ready in $(elapsed "$T0"): docker $(docker version -f '{{.Server.Version}}' 2>/dev/null), image $IMAGE"
