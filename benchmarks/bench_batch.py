"""`deepflash batch` against `deepflash process DIR` on the same photos, side by side in one run.

Makes N test photos of 2 to 12 megapixels by upscaling studio portraits (a folder given with
--portraits, e.g. the training collection; not part of the repository) into a temporary folder,
runs both commands on them with the installed weights, and prints for each the wall time, photos
per second and peak memory (the proportional set size of the command's whole process tree, Ray's
workers included, sampled every second), the throughput ratio, and whether every output file is
byte-identical. With --stages it also prints the CPU cost of each stage of one photo at 2, 6 and
12 MP on one thread (the figures docs/BATCH.md derives its throughput estimates from).

    python benchmarks/bench_batch.py --portraits /path/to/portraits -n 20
    python benchmarks/bench_batch.py --portraits /path/to/portraits -n 200 --keep /tmp/bench-photos
    python benchmarks/bench_batch.py --portraits /path/to/portraits -n 0 --stages
    python benchmarks/bench_batch.py --portraits /path/to/portraits -n 200 --ceiling   # and the machine's own limit
    python benchmarks/bench_batch.py --portraits /path/to/portraits -n 20 60 200 --ceiling --keep /tmp/bench-photos
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES_MP = (2.0, 12.0)
# Reading a process's PSS walks its page tables: done every 0.2 s over Ray's dozen processes, the
# sampling itself took a noticeable share of two cores from the command it measured.
PSS_INTERVAL_S = 1.0
# CPU seconds of each command's process tree (sampled: the last second of a process may be missed).
CPU_SECONDS: dict[str, float] = {}


def make_photos(portraits: Path, count: int, folder: Path) -> list[Path]:
    """``count`` JPEGs from 2 to 12 MP, each a portrait upscaled with its aspect ratio kept."""
    sources = _portraits(portraits)
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for index in range(count):
        target = folder / f"photo_{index:04d}.jpg"
        made.append(target)
        if target.exists():
            continue
        megapixels = SIZES_MP[0] + (SIZES_MP[1] - SIZES_MP[0]) * ((index * 7) % max(count, 1)) / max(count - 1, 1)
        _upscaled(sources[index % len(sources)], megapixels, target)
    return made


def _portraits(folder: Path) -> list[Path]:
    """The large portraits (the 225 x 275 congress ones are too small to upscale 40 times)."""
    found = sorted(p for p in folder.rglob("*.jpg") if "congress" not in p.parent.name)
    if not found:
        raise SystemExit(f"no .jpg portraits under {folder}")
    return found


def _upscaled(source: Path, megapixels: float, target: Path) -> Path:
    from PIL import Image

    with Image.open(source) as image:
        scale = math.sqrt(megapixels * 1e6 / (image.width * image.height))
        size = (round(image.width * scale), round(image.height * scale))
        image.convert("RGB").resize(size, Image.Resampling.BICUBIC).save(target, quality=92)
    return target


def tree_pss(pid: int, cpu_ticks: dict[int, int] | None = None) -> int:
    """Proportional set size of a process and all its descendants, in bytes (Linux /proc; shared pages split,
    not repeated). Each process's CPU time so far (user + system, in clock ticks) goes into ``cpu_ticks``."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            if cpu_ticks is not None:
                ticks[int(entry)] = int(fields[11]) + int(fields[12])
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        if cpu_ticks is not None and current in ticks:
            cpu_ticks[current] = max(cpu_ticks.get(current, 0), ticks[current])
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def run_measured(command: list[str], out: Path, count: int) -> tuple[float, int, subprocess.CompletedProcess[str], tuple[float, float]]:
    """Wall seconds, peak memory of the process tree, the finished process, and when the first and the
    last of ``count`` outputs appeared in ``out`` (seconds from the start, to 0.2 s)."""
    peak = 0
    seen: list[float] = []
    cpu_ticks: dict[int, int] = {}
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        next_pss = 0.0
        while not done.is_set():
            if time.perf_counter() >= next_pss:
                peak = max(peak, tree_pss(process.pid, cpu_ticks))
                next_pss = time.perf_counter() + PSS_INTERVAL_S
            written = len(list(out.glob("photo_*"))) if out.is_dir() else 0
            if written and not seen:
                seen.append(time.perf_counter() - start)
            if written >= count and len(seen) == 1:
                seen.append(time.perf_counter() - start)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    first, last = (seen + [elapsed, elapsed])[:2]
    CPU_SECONDS[command[3]] = sum(cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")
    return elapsed, peak, subprocess.CompletedProcess(command, process.returncode, stdout, stderr), (first, last)


def parallel_halves(deepflash: list[str], photos: list[Path], folder: Path) -> float:
    """Wall seconds of two ``deepflash process`` commands run at once, each on every other photo."""
    commands = []
    for half in (0, 1):
        source = folder / f"in{half}"
        source.mkdir(parents=True)
        for photo in photos[half::2]:
            (source / photo.name).symlink_to(photo.absolute())
        commands.append([*deepflash, "process", str(source), "--out-dir", str(folder / f"out{half}"), "-q"])
    start = time.perf_counter()
    running = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT) for command in commands]
    for process in running:
        process.wait()
    return time.perf_counter() - start


def compare(first: Path, second: Path, names: list[str]) -> list[str]:
    """Names whose two output files differ or are missing."""
    different = []
    for name in names:
        a, b = first / name, second / name
        if not (a.is_file() and b.is_file() and a.read_bytes() == b.read_bytes()):
            different.append(name)
    return different


def stage_costs(photos: list[Path]) -> None:
    """CPU seconds of decode, of every stage the pipeline times (checked by ``pipeline_stages``) and of encode,
    for one photo of each size, one thread."""
    import torch

    from deepflash_core import pipeline as pipeline_module
    from deepflash_core.imageio import load_photo, save_photo
    from deepflash_core.pipeline import Pipeline
    from pipeline_stages import NETWORK, checked

    torch.set_num_threads(1)
    pipeline_module.CLOCK = time.process_time
    pipeline = Pipeline.load()
    with tempfile.TemporaryDirectory() as folder:
        for index, photo_path in enumerate(photos):
            start = time.process_time()
            photo = load_photo(photo_path)
            decode = time.process_time() - start
            pipeline.process(photo.pixels)  # warm: the face models load on the first detection
            result = pipeline.process(photo.pixels)
            start = time.process_time()
            save_photo(photo.with_pixels(result.pixels), Path(folder) / photo_path.name)
            encode = time.process_time() - start
            stages = checked(result.timings, off=("backdrop",))  # Options() keeps the backdrop
            if index == 0:
                print("\nCPU seconds per photo, one thread: decode | " + " ".join(stages) + " | encode | total")
            total = decode + sum(stages.values()) + encode
            mp = photo.width * photo.height / 1e6
            print(f"  {mp:5.1f} MP  {decode:5.3f} | " + " ".join(f"{seconds:5.3f}" for seconds in stages.values())
                  + f" | {encode:5.3f} | {total:5.3f} (network {stages[NETWORK]:.3f})  -> {1 / total:.2f} photos/s per core")


def compare_commands(deepflash: list[str], photos: list[Path], scratch: Path, ceiling: bool) -> None:
    """``process DIR`` and ``batch`` (and, with ``ceiling``, two ``process`` at once) on the same photos, one after another."""
    # Both commands get a folder of exactly these photos (a kept folder may hold more).
    photos_dir = scratch / "photos"
    photos_dir.mkdir(parents=True)
    for photo in photos:
        (photos_dir / photo.name).symlink_to(photo.absolute())
    names = [p.name for p in photos]
    megapixels = [_megapixels(p) for p in photos]
    print(f"\n{len(photos)} photos, {min(megapixels):.1f}-{max(megapixels):.1f} MP ({sum(megapixels):.0f} MP in all), "
          f"load average {os.getloadavg()[0]:.1f}")
    process_out, batch_out = scratch / "process", scratch / "batch"
    count = len(photos)
    process_time, process_peak, process_run, process_span = run_measured(
        [*deepflash, "process", str(photos_dir), "--out-dir", str(process_out), "-q"], process_out, count)
    batch_time, batch_peak, batch_run, batch_span = run_measured(
        [*deepflash, "batch", str(photos_dir), "--out", str(batch_out), "-q"], batch_out, count)
    for label, run in (("process", process_run), ("batch", batch_run)):
        if run.returncode != 0:
            print(f"{label} failed ({run.returncode}): {run.stderr.strip()[-2000:]}")
    said = [line for line in batch_run.stderr.splitlines() if " photos " in line and (" on " in line or " in this process" in line)]
    print(f"batch said: {said[0] if said else '(nothing)'}")
    for label, elapsed, peak, (first, last) in (("deepflash process DIR:", process_time, process_peak, process_span),
                                               ("deepflash batch:      ", batch_time, batch_peak, batch_span)):
        steady = (count - 1) / (last - first) if last > first else float("nan")
        print(f"{label} {elapsed:7.1f} s  {count / elapsed:.3f} photos/s  peak {peak / 2**20:,.0f} MiB  "
              f"CPU {CPU_SECONDS[label.split()[1].rstrip(':')]:.1f} s  (first output after {first:.1f} s, then {steady:.2f} photos/s)")
    print(f"throughput ratio batch/process: {process_time / batch_time:.2f}x")
    if ceiling:
        limit = parallel_halves(deepflash, photos, scratch / "halves")
        print(f"ceiling without Ray: two `deepflash process` on alternate halves at once: {limit:.1f} s, "
              f"{process_time / limit:.2f}x `process DIR`; batch reaches {limit / batch_time:.0%} of it")
    different = compare(process_out, batch_out, names)
    print(f"byte-identical outputs: {len(names) - len(different)}/{len(names)}" + (f"  differ: {different[:10]}" if different else ""))
    print(f"load average {os.getloadavg()[0]:.1f} after this size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portraits", type=Path, required=True, help="folder of studio portraits (searched recursively for .jpg)")
    parser.add_argument("-n", "--count", type=int, nargs="+", default=[20], help="photos per run (several: one run each)")
    parser.add_argument("--keep", type=Path, help="make (or reuse) the photos here instead of a temporary folder")
    parser.add_argument("--stages", action="store_true", help="also print the per-stage CPU costs at 2, 6 and 12 MP")
    parser.add_argument("--ceiling", action="store_true",
                        help="also time two `deepflash process` commands on alternate halves of the photos at once: "
                             "what this machine's cores give with no scheduler at all")
    args = parser.parse_args()
    deepflash = [sys.executable, "-c", "from deepflash_app.cli import main; main()"]
    print(f"load average {os.getloadavg()[0]:.1f} at the start, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        for count in args.count:
            kept = args.keep / f"n{count}" if args.keep else None
            photos = make_photos(args.portraits, count, kept or Path(scratch) / f"made{count}")
            if photos:
                compare_commands(deepflash, photos, Path(scratch) / f"run{count}", args.ceiling)
        if args.stages:
            source = _portraits(args.portraits)[0]
            stage_costs([_upscaled(source, mp, Path(scratch) / f"stage_{mp:.0f}mp.jpg") for mp in (2.0, 6.0, 12.0)])


def _megapixels(path: Path) -> float:
    from PIL import Image

    with Image.open(path) as image:
        return image.width * image.height / 1e6


if __name__ == "__main__":
    main()
