#!/usr/bin/env bash
# Build (or reuse) the cached Debian trixie root with GIMP 3.0 and Krita 5.2. Needs root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=chroot.sh
. "$here/chroot.sh"
trap editors_unmount EXIT
trap 'exit 143' TERM INT HUP
editors_build
