"""The bytes the CLI writes for the bundled examples, as sha256 digests: a record to compare two trees by.

Runs ``deepflash process`` (default options, ``--whole-image``, ``--background lift``, ``--no-red-eye``) and,
when Ray is installed, ``deepflash batch`` on every photo in ``deepflash_app/examples/`` on the CPU, and
prints one line per output file: ``<variant>/<file> <sha256>``. ``--save FILE`` writes the lines; ``--against
FILE`` compares them with an earlier record and exits 1 when any output differs (a moved or refactored tree
must write the same bytes).

    python benchmarks/compare_outputs.py --save /tmp/before.txt       # on the old tree
    python benchmarks/compare_outputs.py --against /tmp/before.txt    # on the new tree: "identical: N files"
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "deepflash_app" / "examples"
VARIANTS = {
    "default": [],
    "whole-image": ["--whole-image"],
    "lift": ["--background", "lift"],
    "no-red-eye": ["--no-red-eye"],
}


def _deepflash() -> list[str]:
    return [sys.executable, "-m", "deepflash_app"]


def _digests(folder: Path, variant: str) -> dict[str, str]:
    return {f"{variant}/{path.name}": hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.iterdir()) if path.suffix.lower() in (".jpg", ".png", ".tif")}


def record(with_batch: bool) -> dict[str, str]:
    """Run every variant on the examples into a temporary folder; the digest of each output."""
    photos = sorted(str(path) for path in EXAMPLES.glob("*.jpg"))
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    digests: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        for variant, options in VARIANTS.items():
            out = Path(folder) / variant
            subprocess.run([*_deepflash(), "process", "-q", "--device", "cpu", *options, "--out-dir", str(out),
                            *photos], check=True, env=env)
            digests.update(_digests(out, variant))
        if with_batch:
            out = Path(folder) / "batch"
            subprocess.run([*_deepflash(), "batch", "-q", "--device", "cpu", "--cpus", "1", "--out", str(out),
                            *photos], check=True, env=env)
            digests.update(_digests(out, "batch"))
    return digests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="Write the digests to this file.")
    parser.add_argument("--against", type=Path, help="Compare with the digests in this file.")
    parser.add_argument("--no-batch", action="store_true", help="Skip `deepflash batch` (it starts Ray).")
    args = parser.parse_args()
    with_batch = not args.no_batch and importlib.util.find_spec("ray") is not None
    digests = record(with_batch)
    lines = [f"{name} {digest}" for name, digest in sorted(digests.items())]
    print("\n".join(lines))
    if args.save:
        args.save.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if args.against:
        before = dict(line.split() for line in args.against.read_text(encoding="utf-8").splitlines() if line)
        differ = sorted(name for name in before.keys() | digests.keys() if before.get(name) != digests.get(name))
        for name in differ:
            print(f"differs: {name} before {before.get(name, '-')} now {digests.get(name, '-')}")
        print(f"identical: {len(digests) - len(differ)} files" if not differ else f"{len(differ)} files differ")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
