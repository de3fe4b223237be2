"""Cold start of the single-photo CLI: wall time of `deepflash process` on one 1 MP photo.

Each run is a new Python process, so every import is paid again (the files are in the page cache
after the first run, as they are for a user who runs the command twice). Reported as the median of
the runs and as a ratio to the floor: a bare `python -c "import torch"` on the same machine, timed
interleaved with the CLI so that both see the same load. CPU seconds count the command's child
processes too (the first photo's detection runs in one). Part of the floor is Python's garbage
collector walking torch's objects (during the import and at exit), which the command avoids; the
floor with the collector handled the same way is timed as well, for the stricter ratio.

Also timed in each round: the same command with the first photo detected in the command's own process
(no child), and, with --baseline, the command of another checkout (e.g. an earlier version, run with
PYTHONPATH pointing at it). The load average is printed before and after: on a shared machine, compare
figures only at a similar load.

    python benchmarks/bench_cold_start.py              # 7 rounds
    python benchmarks/bench_cold_start.py --rounds 15 --imports   # also what each import costs
    python benchmarks/bench_cold_start.py --baseline /path/to/older/checkout
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = ROOT / "deepflash_app" / "examples" / "congress_A000022.jpg"


def make_photo(path: Path) -> None:
    """A 1 MP JPEG: the bundled portrait upscaled to 1000 x 1000."""
    from PIL import Image

    with Image.open(PORTRAIT) as image:
        image.convert("RGB").resize((1000, 1000), Image.Resampling.LANCZOS).save(path, quality=92)


CPU_SECONDS: dict[str, list[float]] = {}


def wall(command: list[str], label: str = "", env: dict[str, str] | None = None) -> float:
    """Wall seconds of one run; its CPU seconds (user + system, with its children's) go to ``CPU_SECONDS[label]``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
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


# The floor with the garbage collector held off during the import and frozen after it, as the command does.
TORCH_FROZEN = "import gc; gc.disable(); import torch; gc.freeze(); gc.enable()"
# The command with the first photo's detection kept in its own process: no child is started.
IN_PROCESS = ("from deepflash_core.detection import child; child.ChildDetection.start = classmethod(lambda *a: None); "
              "from deepflash_app.cli import main; main()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--imports", action="store_true", help="also list the heaviest imports of `deepflash process --help`")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT", help="also time the command of this checkout (PYTHONPATH)")
    args = parser.parse_args()
    deepflash = str(Path(sys.executable).with_name("deepflash"))
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "portrait-1mp.jpg"
        make_photo(photo)
        cli_args = ["process", str(photo), "-o", str(Path(folder) / "out.jpg"), "-q"]
        commands = {
            "torch": ([sys.executable, "-c", "import torch"], None),
            "torch-frozen": ([sys.executable, "-c", TORCH_FROZEN], None),
            "cli": ([deepflash, *cli_args], None),
            "in-process": ([sys.executable, "-c", IN_PROCESS, *cli_args], None),
        }
        if args.baseline:
            commands["baseline"] = ([deepflash, *cli_args], {**os.environ, "PYTHONPATH": str(args.baseline.resolve())})
        for command, env in commands.values():
            wall(command, env=env)  # warm the page cache
        times: dict[str, list[float]] = {label: [] for label in commands}
        for _ in range(args.rounds):
            for label, (command, env) in commands.items():
                times[label].append(wall(command, label, env))
    print(f"load average after:  {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    floor = times["torch"]
    floor_median, frozen_median = statistics.median(floor), statistics.median(times["torch-frozen"])
    cpu = {label: statistics.median(values) for label, values in CPU_SECONDS.items() if label}
    names = {
        "torch": 'python -c "import torch"',
        "torch-frozen": "same, collector held off as the command does",
        "cli": "deepflash process (1 MP, one face)",
        "in-process": "same, detected in its own process",
        "baseline": f"deepflash process of {args.baseline}",
    }
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{names[label]:<45} median {median:.2f} s (min {min(values):.2f}, max {max(values):.2f}, {args.rounds} runs)"
              f"  {median / floor_median:.2f}x (min/min {min(values) / min(floor):.2f}x), {median / frozen_median:.2f}x the"
              f" 2nd row  CPU {cpu[label]:.2f} s ({cpu[label] / cpu['torch']:.2f}x)")
    if args.imports:
        import_costs()


if __name__ == "__main__":
    main()
