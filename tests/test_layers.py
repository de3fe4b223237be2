"""The layering of the packages, as the `import-linter` contracts in pyproject.toml state it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_import_linter_contract_is_kept():
    script = Path(sys.executable).with_name("lint-imports")
    assert script.is_file(), f"{script} is missing: install the dev extra (./install.sh --dev)"
    result = subprocess.run([str(script), "--no-cache", "--no-logo"], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    broken = [line.removesuffix(" BROKEN") for line in result.stdout.splitlines() if line.endswith(" BROKEN")]
    assert not broken and result.returncode == 0, "broken: " + "; ".join(broken) + "\n" + result.stdout + result.stderr
    assert " KEPT" in result.stdout
