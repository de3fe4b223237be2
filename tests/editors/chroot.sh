# Shared helpers for the real-editor tests: build, cache, mount and unmount the Debian trixie root
# that holds GIMP 3.0 and Krita 5.2 (the host's Debian 12 has neither). Source this file; do not run it.
# Needs root. Every mount made here is undone by `editors_unmount`, which callers put in an EXIT trap.

EDITORS_ROOT="${DEEPFLASH_EDITORS_ROOT:-/var/cache/deepflash-editors/trixie}"
EDITORS_MIRROR="${DEEPFLASH_EDITORS_MIRROR:-http://deb.debian.org/debian}"
# Changing this list invalidates the cached root (the marker file holds the list it was built with).
EDITORS_PACKAGES="gimp python3 python3-gi python3-zmq python3-numpy xvfb xauth krita python3-pyqt5 x11-apps netpbm xdotool"
EDITORS_MARKER="$EDITORS_ROOT/.deepflash-packages"
EDITORS_MOUNTS=()

editors_log() { printf '[editors %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

editors_mount() {
    local point
    for point in proc sys dev; do
        if ! mountpoint -q "$EDITORS_ROOT/$point"; then
            case $point in
                proc) mount -t proc proc "$EDITORS_ROOT/proc" ;;
                sys) mount -t sysfs sys "$EDITORS_ROOT/sys" ;;
                dev) mount --bind /dev "$EDITORS_ROOT/dev" ;;
            esac
            EDITORS_MOUNTS+=("$EDITORS_ROOT/$point")
        fi
    done
    if [ -d /dev/shm ] && ! mountpoint -q "$EDITORS_ROOT/dev/shm"; then
        # Qt and Xvfb use shared memory; /dev/shm is its own mount on most hosts.
        mount -t tmpfs shm "$EDITORS_ROOT/dev/shm" && EDITORS_MOUNTS+=("$EDITORS_ROOT/dev/shm")
    fi
}

editors_unmount() {
    local index
    for ((index = ${#EDITORS_MOUNTS[@]} - 1; index >= 0; index--)); do
        umount "${EDITORS_MOUNTS[$index]}" 2>/dev/null || umount -l "${EDITORS_MOUNTS[$index]}" 2>/dev/null || true
    done
    EDITORS_MOUNTS=()
}

editors_ready() { [ -f "$EDITORS_MARKER" ] && [ "$(cat "$EDITORS_MARKER")" = "$EDITORS_PACKAGES" ]; }

# Build the root unless a finished one with the same package list is cached.
editors_build() {
    if editors_ready; then
        editors_log "reusing cached root $EDITORS_ROOT"
        return 0
    fi
    local started=$SECONDS
    if [ -d "$EDITORS_ROOT" ]; then
        editors_log "removing unfinished or outdated root $EDITORS_ROOT"
        for point in dev/shm dev sys proc; do umount "$EDITORS_ROOT/$point" 2>/dev/null || true; done
        if grep -q " $EDITORS_ROOT/" /proc/mounts; then
            editors_log "something is still mounted under $EDITORS_ROOT; refusing to delete it"
            return 1
        fi
        rm -rf --one-file-system "$EDITORS_ROOT"
    fi
    command -v debootstrap >/dev/null || apt-get install -y debootstrap >&2
    mkdir -p "$(dirname "$EDITORS_ROOT")"
    editors_log "debootstrap trixie into $EDITORS_ROOT"
    debootstrap --variant=minbase trixie "$EDITORS_ROOT" "$EDITORS_MIRROR" >&2
    editors_log "debootstrap took $((SECONDS - started)) s"
    editors_mount
    cp /etc/resolv.conf "$EDITORS_ROOT/etc/resolv.conf"
    chroot "$EDITORS_ROOT" apt-get update >&2
    local packages_started=$SECONDS
    # shellcheck disable=SC2086  # the list is meant to split into words
    chroot "$EDITORS_ROOT" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends $EDITORS_PACKAGES >&2
    chroot "$EDITORS_ROOT" apt-get clean
    editors_log "editor packages took $((SECONDS - packages_started)) s"
    editors_unmount
    printf '%s' "$EDITORS_PACKAGES" >"$EDITORS_MARKER"
    editors_log "root ready in $((SECONDS - started)) s ($(du -sh --one-file-system "$EDITORS_ROOT" | cut -f1))"
}
