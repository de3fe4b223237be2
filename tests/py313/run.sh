#!/usr/bin/env bash
# The README's two commands on Python 3.13, in a fresh copy of this checkout inside the cached Debian trixie
# root that the editor tests build (tests/editors/build_chroot.sh): `./install.sh` and the main job, then
# `./install.sh --dev` and the test command, each timed. Needs root, and network (PyPI, Debian) on the first run.
# Usage: tests/py313/run.sh   (or `make test-py313`)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
checkout="$(cd "$here/../.." && pwd)"
# shellcheck source=../editors/chroot.sh
. "$here/../editors/chroot.sh"
trap editors_unmount EXIT
trap 'exit 143' TERM INT HUP

editors_build
editors_mount
# Its own /proc, /sys and /dev on top of those: an editor-test run sharing the root unmounts the ones it
# mounted when it ends, which must not pull them from under this one (the tests read /proc).
mount -t proc proc "$EDITORS_ROOT/proc" && EDITORS_MOUNTS+=("$EDITORS_ROOT/proc")
mount --bind /sys "$EDITORS_ROOT/sys" && EDITORS_MOUNTS+=("$EDITORS_ROOT/sys")  # sysfs itself mounts once only
mount --bind /dev "$EDITORS_ROOT/dev" && EDITORS_MOUNTS+=("$EDITORS_ROOT/dev")
mount -t tmpfs shm "$EDITORS_ROOT/dev/shm" && EDITORS_MOUNTS+=("$EDITORS_ROOT/dev/shm")
cp /etc/resolv.conf "$EDITORS_ROOT/etc/resolv.conf"
# Debian splits venv (ensurepip) out of python3; the editor tests do not need it, this run does.
if ! chroot "$EDITORS_ROOT" python3 -c "import ensurepip" 2>/dev/null; then
    editors_log "installing python3-venv into the root"
    chroot "$EDITORS_ROOT" apt-get update -q >&2
    chroot "$EDITORS_ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv >&2
fi

# A fresh copy of the checkout as git has it (committed or not, untracked files left out), no venv.
copy=/tmp/deepflash-py313
rm -rf --one-file-system "${EDITORS_ROOT:?}$copy"
mkdir -p "$EDITORS_ROOT$copy"
(cd "$checkout" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$EDITORS_ROOT$copy" 2>/dev/null || true)
# pip inside works as the host's does: its configuration, local wheel folders and download cache (read-only
# but the cache), and the certificates the host trusts (a proxy's own CA, on some networks).
bind_from_host() {
    local path=$1 mode=$2 target="$EDITORS_ROOT$1"
    [ -e "$path" ] || return 0
    if [ -d "$path" ]; then mkdir -p "$target"; else mkdir -p "$(dirname "$target")" && touch "$target"; fi
    mount --bind "$path" "$target"
    EDITORS_MOUNTS+=("$target")
    [ "$mode" = rw ] || mount -o remount,bind,ro "$target"
}
for path in /etc/pip.conf /etc/xdg/pip /root/.config/pip /opt/wheels /opt/pypi /opt/pypi-more; do
    bind_from_host "$path" ro
done
mkdir -p /root/.cache/pip
bind_from_host /root/.cache/pip rw
host_ca="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
cp "$host_ca" "$EDITORS_ROOT/tmp/host-ca-certificates.crt"
pip_env=()
while IFS= read -r line; do pip_env+=("$line"); done < <(env | grep '^PIP_' | grep -v '^PIP_CERT=' || true)

step() {
    local started=$SECONDS
    editors_log "$1"
    chroot "$EDITORS_ROOT" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 OMP_NUM_THREADS=1 \
        PIP_CERT=/tmp/host-ca-certificates.crt ${pip_env[@]+"${pip_env[@]}"} bash -c "cd $copy && $2"
    editors_log "$1: $((SECONDS - started)) s"
}
chroot "$EDITORS_ROOT" python3 -V
step "./install.sh (Python 3.13)" "./install.sh"
step "the main job" ".venv/bin/deepflash process deepflash_app/examples/flash_portrait.jpg -o studio.jpg && ls -l studio.jpg"
step "pip check" ".venv/bin/python -m pip check"
step "./install.sh --dev" "./install.sh --dev"
step "the test command" ".venv/bin/python -m pytest -q -p no:cacheprovider"
