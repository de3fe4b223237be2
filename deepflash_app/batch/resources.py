"""Whether a job starts Ray at all; starting or joining Ray, and sizing the job to the cluster it gets.

A job on this machine alone runs on Ray only when Ray's fixed cost (starting it, its workers each
importing torch and loading the models, stopping it) is less than what the other cores save; otherwise
the photos go through the whole-photo loop in this process, as ``deepflash process DIR`` does. A job
given a cluster's address always runs on it.

Ray Data hands out work only while the CPUs its operators ask for fit the cluster's budget. On CPUs
alone the job is one pool of actors, one per core, each taking whole photos: together they ask for
every CPU and nothing else needs one. With GPUs the model's actors (one per GPU) correct and the CPU
tasks decode and encode: an actor pool that asked for every CPU would leave nothing for those tasks
and the job would wait forever, so the actors together ask for a share of the CPUs and each task for
a small fraction, while the operating system shares the real cores among them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

# With GPUs, the part of the cluster's CPU budget the correcting actors ask for; the rest is for decode and encode tasks.
ACTOR_SHARE = 0.5
# How many decode tasks, and how many encode tasks, may run at once per actor. Each task that runs at
# once needs a Ray worker process of its own, and starting one costs seconds: a budget of small
# fractions would otherwise start a dozen workers on two cores.
TASKS_PER_ACTOR = 1
# Environment for every Ray worker: idle OpenMP threads sleep instead of spinning, as in the CLI.
WORKER_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


# What deciding between Ray and this process assumes: one core's CPU seconds per photo, fixed plus per
# megapixel (decode, every stage of the pipeline, encode: `benchmarks/bench_batch.py --stages` gave 0.61 s
# at 2 MP and 1.50 s at 12 MP), Ray's fixed cost on one machine beyond the in-process loop's (on the 2-core
# development machine shared with other work: ray.init 20-30 s and two actors importing torch 16-22 s at
# load average 13, a first photo 11-18 s after the start at lighter load, ~1.5 s to stop), and how much of a
# core each further process gets (two processes on alternate halves of the photos ran 1.77x one on two
# cores: cache and memory bandwidth are shared).
PHOTO_SECONDS = 0.4
MEGAPIXEL_SECONDS = 0.09
RAY_FIXED_SECONDS = 30.0
CORE_EFFICIENCY = 0.85
# A photo whose size is not known before it is read (a URI): assume a phone's.
UNKNOWN_MEGAPIXELS = 12.0


@dataclass(frozen=True)
class Runner:
    """Where a job runs: ``on_ray``, or the whole-photo loop in this process; ``reason`` says why, in words."""

    on_ray: bool
    reason: str


def choose_runner(photos: int, megapixels: float, cores: int, address: str | None = None) -> Runner:
    """Ray, or the whole-photo loop in this process, for ``photos`` of ``megapixels`` in all.

    Args:
        photos: how many photos the job corrects.
        megapixels: their pixels in all, in millions (count ``UNKNOWN_MEGAPIXELS`` for each one not known).
        cores: the cores a local Ray would get.
        address: the Ray cluster given (``--address`` or ``RAY_ADDRESS``); a cluster always means Ray.
    """
    if address:
        return Runner(True, f"on the Ray cluster at {address}")
    work = photos * PHOTO_SECONDS + megapixels * MEGAPIXEL_SECONDS  # one core's seconds
    if cores < 2:
        return Runner(False, "in this process: one core, nothing for Ray to run beside it")
    on_ray = RAY_FIXED_SECONDS + work / (1.0 + (cores - 1) * CORE_EFFICIENCY)
    if on_ray < work:
        return Runner(True, f"on a local Ray over {cores} cores: ~{work:.1f} s of one core's work, "
                            f"more than Ray's start (~{RAY_FIXED_SECONDS:.0f} s) costs")
    return Runner(False, f"in this process: ~{work:.1f} s of one core's work, too little for Ray's start "
                         f"(~{RAY_FIXED_SECONDS:.0f} s) to pay off on {cores} cores")


@dataclass(frozen=True)
class Plan:
    """How the job asks Ray for resources.

    Attributes:
        actors: size of the pool of actors that hold the model.
        actor_cpus: CPUs each actor asks for.
        actor_gpus: GPUs each actor asks for (1 when the cluster has GPUs, else 0).
        actor_threads: torch threads in each actor: one per CPU it asked for (the pipeline's result does
            not depend on the count, so any count gives the file ``deepflash process`` writes).
        whole_photos: each actor decodes, corrects and encodes its photos (CPUs alone); else decode and
            encode are tasks of their own beside the actors (GPUs).
        task_cpus: CPUs each decode or encode task asks for (a fraction: see the module's note).
        task_concurrency: how many decode (and how many encode) tasks may run at once.
    """

    actors: int
    actor_cpus: float
    actor_gpus: float
    actor_threads: int
    whole_photos: bool
    task_cpus: float = 0.0
    task_concurrency: int = 0


def plan_for(cpus: float, gpus: float = 0.0, actors: int | None = None) -> Plan:
    """Size the job to a cluster with ``cpus`` CPUs and ``gpus`` GPUs in all.

    On CPUs alone there is one single-threaded actor per core: most of a photo's work (decoding,
    detection, resizing, blending, encoding) runs on one thread, so one photo per core keeps every core
    busy without the threads of one photo waiting on another's. With GPUs there is one actor per GPU.
    """
    cpus = max(float(cpus), 1.0)
    whole_gpus = int(gpus)
    if whole_gpus <= 0:
        actors = max(1, actors if actors is not None else int(cpus))
        return Plan(actors, round(cpus / actors, 3), 0.0, 1, whole_photos=True)
    actors = max(1, actors if actors is not None else whole_gpus)
    actor_cpus = round(cpus * ACTOR_SHARE / actors, 3)
    concurrency = actors * TASKS_PER_ACTOR
    task_cpus = round(cpus * (1.0 - ACTOR_SHARE) / (concurrency * 2), 3)
    return Plan(actors, actor_cpus, 1.0, max(1, int(actor_cpus)), False, task_cpus, concurrency)


def local_cpus() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def connect(address: str | None, cpus: int | None = None, quiet: bool = False, use_gpus: bool = True) -> Plan:
    """Join the Ray cluster at ``address``, or start a local one sized to this machine; plan the job for it.

    With ``use_gpus`` False (the job runs on the CPU) the cluster's GPUs are not asked for.
    """
    import ray

    options = {"logging_level": logging.ERROR if quiet else logging.INFO, "log_to_driver": not quiet}
    if address:
        ray.init(address=address, runtime_env={"env_vars": WORKER_ENV}, **options)
    else:
        # A local Ray's workers inherit this environment; a runtime_env would make Ray start new
        # workers for the job instead of using the ones it starts with (seconds each).
        os.environ.update(WORKER_ENV)
        ray.init(address="local", num_cpus=cpus or local_cpus(), include_dashboard=False, **options)
    total = ray.cluster_resources()
    gpus = total.get("GPU", 0.0) if use_gpus else 0.0
    return plan_for(total.get("CPU", 1.0), gpus)


def disconnect() -> None:
    """Leave the cluster; a local one stops with its workers."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
