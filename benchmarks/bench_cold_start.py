"""Cold start of the single-photo CLI: wall time of `deepflash process` on one 1 MP photo.

Each run is a new Python process, so every import is paid again (the files are in the page cache
after the first run, as they are for a user who runs the command twice). Reported as the median of
the runs and as a ratio to the floor: a bare `python -c "import torch"` on the same machine, timed
interleaved with the CLI so that both see the same load.

    python benchmarks/bench_cold_start.py              # 7 rounds
    python benchmarks/bench_cold_start.py --rounds 15 --imports   # also what each import costs
    PYTHONPATH=/path/to/older/checkout python benchmarks/bench_cold_start.py --only-cli   # an older version
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT / "tests" / "fixtures" / "congress_A000022.jpg"


def make_photo(path: Path) -> None:
    """A 1 MP JPEG: the bundled portrait upscaled to 1000 x 1000."""
    from PIL import Image

    with Image.open(PORTRAIT) as image:
        image.convert("RGB").resize((1000, 1000), Image.Resampling.LANCZOS).save(path, quality=92)


CPU_SECONDS: dict[str, list[float]] = {}


def wall(command: list[str], label: str = "") -> float:
    """Wall seconds of one run; its CPU seconds (user + system) go to ``CPU_SECONDS[label]``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    CPU_SECONDS.setdefault(label, []).append(cpu)
    return elapsed


def import_costs() -> None:
    """Self time of the heaviest imports of one `deepflash process`, from Python's -X importtime."""
    code = "from deepflash_app.cli import main; import sys; sys.argv=['deepflash','process','--help']; main()"
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, cwd=ROOT)
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = [p.strip() for p in line[len("import time:") :].split("|")]
            if parts[1].isdigit():
                rows.append((int(parts[1]), parts[2]))
    for cumulative, name in sorted(rows, reverse=True)[:12]:
        print(f"  {cumulative / 1e6:6.2f} s cumulative  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--imports", action="store_true", help="also list the heaviest imports of `deepflash process --help`")
    parser.add_argument("--only-cli", action="store_true", help="skip the preloaded variant (for versions without faces.preload)")
    args = parser.parse_args()
    deepflash = str(Path(sys.executable).with_name("deepflash"))
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "portrait-1mp.jpg"
        make_photo(photo)
        floor_command = [sys.executable, "-c", "import torch"]
        cli_command = [deepflash, "process", str(photo), "-o", str(Path(folder) / "out.jpg"), "-q"]
        # The same command with the face models loading in the background before torch is imported.
        preload_code = "from deepflash_core import faces; faces.preload(); from deepflash_app.cli import main; main()"
        preload_command = [sys.executable, "-c", preload_code, *cli_command[1:]]
        wall(floor_command), wall(cli_command)  # warm the page cache
        floor, cli, preloaded = [], [], []
        for _ in range(args.rounds):
            floor.append(wall(floor_command, "torch"))
            cli.append(wall(cli_command, "cli"))
            if not args.only_cli:
                preloaded.append(wall(preload_command, "preloaded"))
    floor_median, cli_median = statistics.median(floor), statistics.median(cli)
    print(f'python -c "import torch":            median {floor_median:.2f} s  (min {min(floor):.2f}, max {max(floor):.2f}, {args.rounds} runs)')
    print(f"deepflash process (1 MP, one face):  median {cli_median:.2f} s  (min {min(cli):.2f}, max {max(cli):.2f})")
    print(f"ratio to the torch import:           {cli_median / floor_median:.2f}x  (min/min {min(cli) / min(floor):.2f}x)")
    if preloaded:
        preloaded_median = statistics.median(preloaded)
        print(f"same, face models preloaded:         median {preloaded_median:.2f} s, {preloaded_median / floor_median:.2f}x  (min/min {min(preloaded) / min(floor):.2f}x)")
    cpu = {label: statistics.median(values) for label, values in CPU_SECONDS.items() if label}
    print(f"CPU seconds (median): torch import {cpu['torch']:.2f}, deepflash process {cpu['cli']:.2f} ({cpu['cli'] / cpu['torch']:.2f}x)"
          + (f", preloaded {cpu['preloaded']:.2f} ({cpu['preloaded'] / cpu['torch']:.2f}x)" if "preloaded" in cpu else ""))
    if args.imports:
        import_costs()


if __name__ == "__main__":
    main()
