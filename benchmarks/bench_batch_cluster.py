"""`deepflash batch` on a two-node Ray cluster started on this machine: spread, a killed worker, a resumed run.

1. `ray start --head --num-cpus 1` and `ray start --address … --num-cpus 1`: two nodes, each with its own
   CPU budget. A job over N photos prints Ray Data's own statistics (tasks per node, nodes used).
   While it runs, one Ray worker process that holds the model is killed (SIGKILL); the job must
   still finish with every output whole and nothing else in the destination.
2. A second job is stopped with Ctrl-C (SIGINT) part way; the rerun must write only what was missing.

Every Ray process this script starts is stopped at the end, found by its own temporary folder.

    python benchmarks/bench_batch_cluster.py --portraits /path/to/portraits -n 16
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch import _portraits, _upscaled  # noqa: E402

RAY = str(Path(sys.executable).with_name("ray"))
DEEPFLASH = [sys.executable, "-c", "from deepflash_app.cli import main; main()"]
PHOTO_MP = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ray_processes(marker: str) -> list[int]:
    """Ray's processes started with ``marker`` (the temporary folder) on their command line, and their descendants."""
    children: dict[int, list[int]] = {}
    roots = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        if marker in cmdline and int(entry) != os.getpid():
            roots.append(int(entry))
    found, stack = set(), list(roots)
    while stack:
        pid = stack.pop()
        if pid not in found:
            found.add(pid)
            stack.extend(children.get(pid, []))
    return sorted(found)


def stop_ray(marker: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in ray_processes(marker):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(2)


def model_workers(marker: str) -> list[tuple[int, str]]:
    """(pid, title) of the Ray workers of this cluster that hold the model."""
    workers = []
    for pid in ray_processes(marker):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::") and ("CorrectingActor" in title or "PhotoActor" in title):
            workers.append((pid, title))
    return workers


def outputs(folder: Path) -> list[Path]:
    return sorted(folder.glob("photo_*.jpg")) if folder.is_dir() else []


def check_whole(folder: Path, names: list[str]) -> str:
    """A one-line verdict on the destination: every output there, each decodes, nothing else left."""
    from PIL import Image

    present = {p.name for p in folder.iterdir()}
    missing = [n for n in names if n not in present]
    extra = sorted(present - set(names) - {"deepflash-batch.jsonl"})
    broken = []
    for name in names:
        if name in present:
            try:
                with Image.open(folder / name) as image:
                    image.load()
            except OSError:
                broken.append(name)
    return f"{len(names) - len(missing)}/{len(names)} outputs, {len(broken)} unreadable, other files: {extra or 'none'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portraits", type=Path, required=True)
    parser.add_argument("-n", "--count", type=int, default=16)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bbc-", dir="/tmp"))  # short: Ray's socket paths must fit in 107 bytes
    marker = str(scratch / "ray")
    port = free_port()
    address = f"127.0.0.1:{port}"
    # Token authentication on every node and the driver (the token is in ~/.ray/auth_token).
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
    try:
        common = ["--num-cpus", "1", "--temp-dir", marker, "--disable-usage-stats"]
        subprocess.run([RAY, "start", "--head", "--port", str(port), "--include-dashboard=false", *common], check=True, env=env, capture_output=True)
        subprocess.run([RAY, "start", "--address", address, *common], check=True, env=env, capture_output=True)
        print(f"two Ray nodes at {address}, 1 CPU each")
        photos = scratch / "photos"
        photos.mkdir()
        sources = _portraits(args.portraits)
        names = [_upscaled(sources[i % len(sources)], PHOTO_MP, photos / f"photo_{i:03d}.jpg").name for i in range(args.count)]

        # 1. A worker holding the model is killed while the job runs.
        out = scratch / "out"
        job = subprocess.Popen([*DEEPFLASH, "batch", str(photos), "--out", str(out), "--address", address, "--stats", "-q"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        killed, written_then = None, 0
        while job.poll() is None and killed is None:
            workers = model_workers(marker)
            written_then = len(outputs(out))
            if written_then >= 2 and workers:
                killed = workers[-1]
                os.kill(killed[0], signal.SIGKILL)
            time.sleep(0.2)
        _, stderr = job.communicate()
        if killed:
            print(f"killed {killed[1]} (pid {killed[0]}) with SIGKILL while the job ran, {written_then}/{args.count} outputs written")
        else:
            print("the job finished before a worker could be killed")
        print(f"job exit code {job.returncode}; {check_whole(out, names)}")
        for line in stderr.splitlines():
            if "Operator" in line and ("Map" in line or "MapBatches" in line) or "Tasks per node" in line or line.startswith("deepflash:"):
                print("  " + line.strip())

        # 2. Stopped part way with Ctrl-C, then run again.
        out2 = scratch / "out2"
        job = subprocess.Popen([*DEEPFLASH, "batch", str(photos), "--out", str(out2), "--address", address, "-q"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        while job.poll() is None and len(outputs(out2)) < args.count // 3:
            time.sleep(0.1)
        job.send_signal(signal.SIGINT)
        _, stderr = job.communicate()
        present = len(outputs(out2))
        print(f"interrupted run: exit code {job.returncode}, {present} outputs kept; {stderr.strip().splitlines()[-1] if stderr.strip() else ''}")
        rerun = subprocess.run([*DEEPFLASH, "batch", str(photos), "--out", str(out2), "--address", address, "-q"], capture_output=True, text=True, env=env)
        records = [json.loads(line) for line in (out2 / "deepflash-batch.jsonl").read_text().splitlines()]
        written = sum(r["status"] == "done" for r in records)
        skipped = sum(r["status"] == "skipped" for r in records)
        print(f"rerun: exit code {rerun.returncode}, wrote {written} (missing before: {args.count - present}), skipped {skipped}; {check_whole(out2, names)}")
    finally:
        stop_ray(marker)
        left = ray_processes(marker)
        print(f"Ray processes of this cluster left running: {len(left)}")
        subprocess.run(["rm", "-rf", str(scratch)], check=False)


if __name__ == "__main__":
    main()
