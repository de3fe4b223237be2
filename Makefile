# Developer tasks. The default test suite is `.venv/bin/python -m pytest` (see README).
PYTHON ?= .venv/bin/python

.PHONY: test test-editors test-py313 editor-screenshots editors-root

test:
	$(PYTHON) -m pytest -q

# GIMP 3.0 and Krita 5.2 (Debian trixie, in a cached chroot under /var/cache/deepflash-editors): installs
# the plug-ins with `deepflash install`, runs them headless against a local server, checks the layers.
# Needs root, and network on the first run (how long it takes: README).
test-editors:
	DEEPFLASH_PYTHON=$(abspath $(PYTHON)) bash tests/editors/run_editor_tests.sh gimp krita

# The README's two commands on Python 3.13: a fresh copy of this checkout in the same cached trixie root,
# `./install.sh`, the main job, `./install.sh --dev`, the test command, each timed. Root and network.
test-py313:
	bash tests/py313/run.sh

# Also refresh docs/gimp_dialog.png and docs/krita_docker.png (GUI editors under Xvfb).
editor-screenshots:
	DEEPFLASH_PYTHON=$(abspath $(PYTHON)) bash tests/editors/run_editor_tests.sh screenshots

# Only build (or check) the cached trixie root.
editors-root:
	bash tests/editors/build_chroot.sh
