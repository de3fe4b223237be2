#!/usr/bin/env bash
# What the browser test (tests/test_web_browser.py) needs on a fresh Debian machine:
#   - Debian's Chromium (/usr/bin/chromium), installed with apt-get when missing and running as root;
#   - the Python playwright package, which drives that Chromium through executable_path.
# Playwright's own browser download ('playwright install') is never run: it fails on machines without
# network access, and the system browser is the one the test is meant to use.
# Usage: tests/install-test-tools.sh [python]   (default: .venv/bin/python of this checkout)
set -euo pipefail
cd "$(dirname "$0")/.."

PLAYWRIGHT_VERSION=1.65.2
PYTHON=${1:-.venv/bin/python}

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-test-tools: installing Debian's chromium"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  else
    echo "install-test-tools: chromium is missing; install it (sudo apt-get install chromium)," \
         "or the browser test will be skipped" >&2
  fi
fi

PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$PYTHON" -m pip install --disable-pip-version-check -q \
  "playwright==${PLAYWRIGHT_VERSION}"
"$PYTHON" -c "import playwright.sync_api" && echo "install-test-tools: playwright ${PLAYWRIGHT_VERSION} ready"
command -v chromium >/dev/null 2>&1 && chromium --version 2>/dev/null | head -n 1 || true
