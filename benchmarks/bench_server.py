"""What the server costs on top of the pipeline: transport overhead, throughput and memory.

Starts a real server process on a free loopback port (CPU) and measures

* transport overhead for a 12 MP photo: the client's round trip minus the server's own time for the request
  (``timings["server_total"]``), and the round trip minus the in-process pipeline on the same photo, each as a
  fraction of the whole request (target ≤ 5 %);
* requests per second for 0.5 MP photos with 1 and 4 concurrent clients;
* the server's resident memory (now and peak) after those runs.

The photos are a bundled public-domain portrait upscaled into a 4:3 frame with sensor-like noise, so face
detection runs as it would on a real photo. The network is randomly initialised (its speed does not depend
on its weights); the product never runs without trained weights.

* with ``--warm``: a warm server against the in-process pipeline at 2 and 12 MP, requests interleaved with
  in-process runs on the same photo (median of each pair's ratio, wall time), the server's own stages (every
  one the pipeline times, checked by ``pipeline_stages``), and its resident memory after 10 and after 100
  requests of 12 MP.

    python benchmarks/bench_server.py                         # full-width network
    python benchmarks/bench_server.py --width 0.125 --repeat 2 --requests 10
    python benchmarks/bench_server.py --warm --repeat 7 --memory-requests 100   # the shipped model's width
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# As the CLI (and so the server) does, before torch starts its threads: idle OpenMP workers sleep, so
# the in-process pipeline measured here runs as the server's does.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepflash_client.zmq_client import DeepFlashClient, ServerLaunch, ensure_server  # noqa: E402
from pipeline_stages import checked  # noqa: E402

PORTRAIT = ROOT / "deepflash_app" / "examples" / "congress_A000014.jpg"


def photo(megapixels: float, seed: int = 0) -> np.ndarray:
    """A 4:3 landscape frame holding the portrait at full height, with noise."""
    width = int(round(math.sqrt(megapixels * 1e6 * 4 / 3)))
    height = int(round(width * 3 / 4))
    face = np.asarray(Image.open(PORTRAIT).convert("RGB"))
    face = cv2.resize(face, (int(round(face.shape[1] * height / face.shape[0])), height),
                      interpolation=cv2.INTER_CUBIC)
    left = (width - face.shape[1]) // 2
    frame = cv2.copyMakeBorder(face, 0, 0, left, width - face.shape[1] - left, cv2.BORDER_REFLECT_101)
    noise = np.random.default_rng(seed).normal(0.0, 3.0, frame.shape).astype(np.float32)
    return np.ascontiguousarray(np.clip(frame + noise, 0, 255).astype(np.uint8))


def random_weights(directory: Path, width: float) -> Path:
    import torch

    from deepflash_core.network.unet import FlashUNet, ModelConfig
    from deepflash_core.network.weights import ModelCard, save_model

    torch.manual_seed(0)
    model = FlashUNet(ModelConfig(width=width)).eval()
    path = directory / "random.safetensors"
    save_model(model, ModelCard.for_model(model, name=f"random-width-{width}"), path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def transport_overhead(address: str, weights: Path, image: np.ndarray, repeat: int) -> None:
    from deepflash_client.options import Options
    from deepflash_core.pipeline import Pipeline

    height, width = image.shape[:2]
    client = DeepFlashClient(address, timeout_s=600, retries=0)
    pipeline = Pipeline.load(weights=weights, device="cpu")
    client.process(image, width, height)  # warm-up: first-call allocations on both sides
    pipeline.process(image, Options())
    round_trips, server_times, in_process = [], [], []
    for _ in range(repeat):  # interleaved, so a change in machine load hits both alike
        started = time.perf_counter()
        reply = client.process(image, width, height)
        round_trips.append(time.perf_counter() - started)
        server_times.append(reply.summary.timings["server_total"])
        started = time.perf_counter()
        pipeline.process(image, Options())
        in_process.append(time.perf_counter() - started)
    del pipeline
    overheads = [total - server for total, server in zip(round_trips, server_times)]
    ping_latencies = pings_during(address, lambda: client.process(image, width, height))
    total, overhead, local = (statistics.median(values) for values in (round_trips, overheads, in_process))
    print(f"12 MP ({width}x{height} u8 RGB, {image.nbytes / 2**20:.0f} MiB each way), median of {repeat}:")
    print(f"  round trip through the server      {total:7.3f} s")
    print(f"  server's own time for the request  {total - overhead:7.3f} s")
    print(f"  transport overhead                 {overhead:7.3f} s = {100 * overhead / total:.1f} % of the request")
    print(f"  in-process pipeline                {local:7.3f} s; round trip minus it = "
          f"{100 * (total - local) / total:.1f} % of the request")
    print(f"  ping while it runs: {len(ping_latencies)} pings, slowest answer "
          f"{1000 * max(ping_latencies):.1f} ms, median {1000 * statistics.median(ping_latencies):.1f} ms")
    print("  stages on the server: " + ", ".join(f"{name} {value:.3f}" for name, value in reply.summary.timings.items()))


def cpu_seconds(pid: int) -> float:
    """CPU seconds so far of every thread of process ``pid`` (the scheduler's nanosecond counts)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):  # a thread that just ended
            continue
    return total / 1e9


def warm_against_in_process(address: str, weights: Path, sizes: list[float], repeat: int, server_pid: int) -> None:
    """Round trips to a warm server against the same pipeline in this process, interleaved, per size: wall
    seconds, and CPU seconds (the server's threads plus this process during the request, against this
    process during the in-process run), which other work on the machine disturbs far less."""
    from deepflash_client.options import Options
    from deepflash_core.pipeline import Pipeline

    client = DeepFlashClient(address, timeout_s=600, retries=0)
    pipeline = Pipeline.load(weights=weights, device="cpu")
    print(f"warm server against the pipeline in this process (wall seconds, median of {repeat} interleaved pairs; "
          f"load average {os.getloadavg()[0]:.1f}):")
    for megapixels in sizes:
        image = photo(megapixels)
        height, width = image.shape[:2]
        for _ in range(2):  # warm: first-call allocations on both sides
            client.process(image, width, height)
            pipeline.process(image, Options())
        trips, locals_, ratios, stages, local_stages, cpu_ratios = [], [], [], [], [], []
        for _ in range(repeat):
            started, cpu, served = time.perf_counter(), time.process_time(), cpu_seconds(server_pid)
            reply = client.process(image, width, height)
            trips.append(time.perf_counter() - started)
            trip_cpu = time.process_time() - cpu + cpu_seconds(server_pid) - served
            started, cpu = time.perf_counter(), time.process_time()
            result = pipeline.process(image, Options())
            locals_.append(time.perf_counter() - started)
            ratios.append(trips[-1] / locals_[-1])
            cpu_ratios.append(trip_cpu / (time.process_time() - cpu))
            stages.append(reply.summary.timings)
            local_stages.append(checked(result.timings, OFF))
        names = list(checked({name: value for name, value in stages[0].items() if name not in SERVER_TIMINGS}, OFF))
        print(f"  {megapixels:g} MP ({width}x{height}): round trip {statistics.median(trips):.3f} s, in-process "
              f"{statistics.median(locals_):.3f} s, ratio {statistics.median(ratios):.2f} (per pair "
              + " ".join(f"{r:.2f}" for r in ratios) + f"); CPU seconds ratio {statistics.median(cpu_ratios):.2f} (per pair "
              + " ".join(f"{r:.2f}" for r in cpu_ratios) + ")")
        print("    stages, server / in-process (median s): " + ", ".join(
            f"{name} {statistics.median(t[name] for t in stages):.3f}/{statistics.median(t[name] for t in local_stages):.3f}"
            for name in names))
        print("    the server's own: " + ", ".join(f"{name} {statistics.median(t[name] for t in stages):.3f}" for name in SERVER_TIMINGS))


def memory_over(address: str, image: np.ndarray, requests: int) -> None:
    """The server's resident memory after 10 requests of ``image`` and after ``requests``."""
    client = DeepFlashClient(address, timeout_s=600, retries=0)
    height, width = image.shape[:2]
    marks = {}
    for done in range(1, requests + 1):
        client.process(image, width, height)
        if done in (10, requests):
            marks[done] = client.info()["memory"]["rss_bytes"]
    first, last = marks[10], marks[requests]
    print(f"server RSS after 10 requests of {image.shape[1]}x{image.shape[0]}: {first / 2**20:.0f} MiB; after "
          f"{requests}: {last / 2**20:.0f} MiB ({100 * (last - first) / first:+.1f} %)")


# What the server adds to the pipeline's own timings in a reply; the default options keep the backdrop.
SERVER_TIMINGS = ("queue", "decode", "pipeline", "server_total")
OFF = ("backdrop",)


def pings_during(address: str, request: object) -> list[float]:
    """Latencies of pings sent every 20 ms from another client while ``request()`` runs."""
    latencies: list[float] = []
    finished = threading.Event()

    def ping() -> None:
        with DeepFlashClient(address, timeout_s=60, retries=0) as pinger:
            while not finished.is_set():
                started = time.perf_counter()
                pinger.ping()
                latencies.append(time.perf_counter() - started)
                time.sleep(0.02)

    thread = threading.Thread(target=ping)
    thread.start()
    try:
        request()  # type: ignore[operator]
    finally:
        finished.set()
        thread.join()
    return latencies


def throughput(address: str, image: np.ndarray, clients: int, requests: int) -> float:
    height, width = image.shape[:2]
    failures: list[str] = []

    def work() -> None:
        with DeepFlashClient(address, timeout_s=600, retries=0) as own:
            for _ in range(requests):
                try:
                    own.process(image, width, height)
                except Exception as error:  # counted and reported, the run goes on
                    failures.append(str(error))

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    rate = clients * requests / elapsed
    print(f"0.5 MP ({width}x{height}), {clients} client(s) x {requests} requests: {rate:.2f} requests/s "
          f"({elapsed:.1f} s, {len(failures)} failures)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=1.0, help="network width multiplier (1.0 = the paper's)")
    parser.add_argument("--repeat", type=int, default=3, help="12 MP requests timed")
    parser.add_argument("--requests", type=int, default=20, help="0.5 MP requests per client")
    parser.add_argument("--warm", action="store_true", help="only the warm server against the in-process pipeline "
                        "(2 and 12 MP) and its memory over --memory-requests requests of 12 MP")
    parser.add_argument("--memory-requests", type=int, default=100)
    args = parser.parse_args()
    if args.warm:
        warm_main(args)
        return

    with tempfile.TemporaryDirectory() as scratch:
        os.environ["DEEPFLASH_STATE_DIR"] = str(Path(scratch) / "state")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        weights = random_weights(Path(scratch), args.width)
        address = f"tcp://127.0.0.1:{free_port()}"
        launch = ServerLaunch(command=[sys.executable, "-m", "deepflash_app", "serve", "--device", "cpu"], weights=str(weights))
        pid = ensure_server(address, launch)["pid"]
        try:
            client = DeepFlashClient(address, timeout_s=600, retries=0)
            print(f"server pid {pid} on {address}, network width {args.width}, torch threads per process: "
                  f"default, {os.cpu_count()} CPUs")
            idle = client.info()["memory"]["rss_bytes"]
            small = photo(0.5)
            client.process(small, small.shape[1], small.shape[0])
            throughput(address, small, 1, args.requests)
            throughput(address, small, 4, max(1, args.requests // 4))
            transport_overhead(address, weights, photo(12.0), args.repeat)
            memory = client.info()["memory"]
            print(f"server RSS: {idle / 2**20:.0f} MiB after loading, {memory['rss_bytes'] / 2**20:.0f} MiB now, "
                  f"peak {memory['peak_rss_bytes'] / 2**20:.0f} MiB")
        finally:
            os.kill(pid, signal.SIGTERM)


def warm_main(args: argparse.Namespace) -> None:
    """The --warm run: the shipped model's architecture (random weights) unless --width is given."""
    import dataclasses

    import torch

    from deepflash_core.network.unet import FlashUNet, ModelConfig
    from deepflash_core.network.weights import ModelCard, read_card, save_model

    with tempfile.TemporaryDirectory() as scratch:
        os.environ["DEEPFLASH_STATE_DIR"] = str(Path(scratch) / "state")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        config = read_card().config if "--width" not in sys.argv else dataclasses.replace(ModelConfig(), width=args.width)
        torch.manual_seed(0)
        model = FlashUNet(config).eval()
        weights = Path(scratch) / "random.safetensors"
        save_model(model, ModelCard.for_model(model, name="random-shipped-architecture"), weights)
        address = f"tcp://127.0.0.1:{free_port()}"
        # Started in this benchmark's own session, not detached as a client would: Linux shares the CPU among
        # sessions first (autogroups), so a detached server would get a share of its own on a busy machine.
        server = subprocess.Popen([sys.executable, "-m", "deepflash_app", "serve", "--device", "cpu", "--bind", address,
                                   "--weights", str(weights)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            DeepFlashClient(address, timeout_s=600, retries=0).ping()
            while DeepFlashClient(address, timeout_s=600, retries=0).ping().get("state") != "ready":
                time.sleep(0.5)
            print(f"server pid {server.pid}, network width {config.width}, input {config.input_size} px, {os.cpu_count()} CPUs")
            warm_against_in_process(address, weights, [2.0, 12.0], args.repeat, server.pid)
            memory_over(address, photo(12.0), args.memory_requests)
            print(f"load average {os.getloadavg()[0]:.1f} at the end")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)


if __name__ == "__main__":
    main()
