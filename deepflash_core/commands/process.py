"""``deepflash process`` (correct photos) and ``deepflash info`` (device, weights, versions)."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from deepflash_core.errors import DeepFlashError, ImageWriteError

# Debugging aid: with DEEPFLASH_DEBUG=1 unexpected errors show their traceback.
DEBUG = os.environ.get("DEEPFLASH_DEBUG", "") not in ("", "0")
WEIGHTS_HELP = ("A .safetensors weights file (its .json model card beside it) or an installed model's name "
                "(`deepflash models` lists them); default: the default model.")


@dataclass(frozen=True)
class Job:
    """One photo to correct and where its result goes."""

    source: Path
    target: Path


def _image_extensions() -> set[str]:
    from PIL import Image

    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def expand_inputs(inputs: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Files as given, folders replaced by the images directly inside them (sorted by name).

    Returns:
        The photo paths and one failure line per input that gives no photo (an empty folder).
    """
    extensions = _image_extensions()
    photos: list[Path] = []
    failures: list[str] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in extensions and not p.name.startswith("."))
            if not found:
                failures.append(f"{item}: the folder holds no images.")
            photos.extend(found)
        else:
            photos.append(item)
    return photos, failures


def plan_jobs(photos: list[Path], output: Path | None, out_dir: Path | None) -> tuple[list[Job], list[str]]:
    """Pair every photo with its output path; refuse to overwrite an input or write one output twice."""
    jobs: list[Job] = []
    failures: list[str] = []
    sources = {_identity(p) for p in photos}
    claimed: dict[Path, Path] = {}
    for photo in photos:
        target = output if output is not None else out_dir / photo.name  # type: ignore[operator]
        key = _identity(target)
        if key in sources:
            failures.append(f"{photo}: refusing to overwrite an input photo with the output {target}.")
        elif key in claimed:
            failures.append(f"{photo}: its output {target} would overwrite the result of {claimed[key]}.")
        else:
            claimed[key] = photo
            jobs.append(Job(photo, target))
    return jobs, failures


def _identity(path: Path) -> Path:
    return path.resolve()


def _without_name(message: str, path: Path) -> str:
    """Errors from the image reader start with the file name; the CLI prints the path itself."""
    for prefix in (f"{path}: ", f"{path.name}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


class _Corrector:
    """Runs the pipeline in-process, or through a DeepFlash server when an address is given."""

    def __init__(self, weights: str | None, device: str, mixed_precision: bool, server: str | None) -> None:
        self.server = server
        if server:
            from deepflash_core.client import DeepFlashClient

            self.client = DeepFlashClient(address=server)
        else:
            from deepflash_core.pipeline import Pipeline

            self.pipeline = Pipeline.load(weights=weights, device=device, mixed_precision=mixed_precision)

    def correct(self, pixels: Any, strength: float, whole_image: bool) -> tuple[Any, list[str]]:
        if not self.server:
            from deepflash_core.pipeline import Options

            result = self.pipeline.process(pixels, Options(strength=strength, whole_image=whole_image))
            return result.pixels, result.warnings
        corrected, reply = self.client.process_array(pixels, strength=strength, whole_image=whole_image)
        return corrected, list(reply.warnings)


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Output file (one input only); its extension picks the format.")
@click.option("--out-dir", type=click.Path(path_type=Path, file_okay=False), help="Folder for the outputs, named like the inputs.")
@click.option("--strength", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True, help="0 leaves the photo unchanged, 1 applies the full correction.")
@click.option("--whole-image", is_flag=True, help="Correct the whole frame as one crop instead of each detected face.")
@click.option("--device", default="auto", show_default=True, help="Torch device: auto, cpu, cuda, cuda:N or mps.")
@click.option("--weights", metavar="FILE|NAME", help=WEIGHTS_HELP)
@click.option("--mixed-precision", is_flag=True, help="Run the network in bf16 (fp16 on Apple MPS): faster, slightly less exact.")
@click.option("--server", metavar="ADDRESS", help="Send the pixels to a running DeepFlash server (e.g. tcp://127.0.0.1:5557).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no notes; errors are still printed.")
def process(
    inputs: tuple[Path, ...],
    output: Path | None,
    out_dir: Path | None,
    strength: float,
    whole_image: bool,
    device: str,
    weights: str | None,
    mixed_precision: bool,
    server: str | None,
    quiet: bool,
) -> None:
    """Turn flash portraits into studio-lit ones.

    INPUTS are photos or folders of photos. Every output keeps its input's size, bit depth, alpha,
    orientation, colour profile and EXIF; pixels away from the faces are left exactly as they were.
    """
    if (output is None) == (out_dir is None):
        raise click.UsageError("Give exactly one of -o/--output FILE or --out-dir FOLDER.")
    photos, failures = expand_inputs(inputs)
    if output is not None and len(photos) > 1:
        raise click.UsageError(f"-o/--output takes one photo, but {len(photos)} were given; use --out-dir.")
    jobs, refused = plan_jobs(photos, output, out_dir)
    failures += refused
    for line in failures:
        click.echo(f"deepflash: {line}", err=True)
    if not jobs:
        sys.exit(1)
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ImageWriteError(f"Cannot create the output folder {out_dir} ({error.strerror or error}).") from None

    try:
        corrector = _Corrector(weights, device, mixed_precision, server)
    except DeepFlashError as error:  # no weights, unknown device: nothing can be processed
        click.echo(f"deepflash: {error}", err=True)
        sys.exit(1)
    failed = len(failures)
    done = 0
    from tqdm import tqdm

    with tqdm(jobs, unit="photo", disable=quiet or len(jobs) < 2, file=sys.stderr, dynamic_ncols=True) as bar:
        for job in bar:
            bar.set_postfix_str(job.source.name, refresh=False)
            try:
                notes = _process_one(job, corrector, strength, whole_image)
            except DeepFlashError as error:
                failed += 1
                tqdm.write(f"deepflash: {job.source}: {_without_name(str(error), job.source)}", file=sys.stderr)
                continue
            except MemoryError:
                failed += 1
                tqdm.write(f"deepflash: {job.source}: not enough memory to process this photo.", file=sys.stderr)
                continue
            except Exception as error:  # a bug, not the user's fault: still one line per file
                if DEBUG:
                    raise
                failed += 1
                detail = str(error).splitlines()[0] if str(error) else ""
                tqdm.write(f"deepflash: {job.source}: internal error {type(error).__name__}: {detail} (DEEPFLASH_DEBUG=1 shows details)", file=sys.stderr)
                continue
            done += 1
            if not quiet:
                if len(jobs) == 1:  # a folder gets the bar and a summary instead
                    tqdm.write(f"deepflash: wrote {job.target}", file=sys.stderr)
                for note in notes:
                    tqdm.write(f"deepflash: {job.target}: note: {note}", file=sys.stderr)
    if len(jobs) + len(failures) > 1 and not quiet:
        click.echo(f"deepflash: {done} corrected, {failed} failed.", err=True)
    if failed:
        sys.exit(1)


def _process_one(job: Job, corrector: _Corrector, strength: float, whole_image: bool) -> list[str]:
    from deepflash_core.imageio import load_photo, output_format, save_photo

    output_format(job.target)  # an unknown extension fails before any work
    photo = load_photo(job.source)
    pixels, warnings = corrector.correct(photo.pixels, strength, whole_image)
    notes = save_photo(photo.with_pixels(pixels), job.target)
    return [*warnings, *notes]


@click.command()
@click.option("--device", default="auto", show_default=True, help="Which device to report on.")
@click.option("--weights", metavar="FILE|NAME", help="Report on this weights file or installed model instead of the default.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def info(device: str, weights: str | None, as_json: bool) -> None:
    """Show the device, the weights and their model card, and library versions."""
    report = collect_info(device, weights)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return
    click.echo(f"device:   {report['device']}")
    click.echo(f"weights:  {report['weights']['path']}")
    click.echo(f"          {report['weights']['status']}")
    card = report["weights"].get("model_card")
    if card:
        settings = ", ".join(f"{key} {value}" for key, value in card.get("config", {}).items())
        click.echo(f"model:    {card.get('name')} ({card.get('architecture')}: {settings}; {card.get('parameters'):,} parameters)")
        for key, value in card.get("metrics", {}).items():
            click.echo(f"          {key}: {value}")
    click.echo(f"models:   {', '.join(report['models'])} (`deepflash models` describes them; --weights NAME runs one)")
    click.echo("versions: " + ", ".join(f"{name} {version}" for name, version in report["versions"].items()))


def collect_info(device: str = "auto", weights: str | Path | None = None) -> dict[str, Any]:
    """Everything ``deepflash info`` prints, as a dictionary."""
    from deepflash_core import weights as weights_module
    from deepflash_core.device import select_device
    from deepflash_core.errors import WeightsError

    try:
        device_name = str(select_device(device))
    except DeepFlashError as error:
        device_name = f"unavailable ({error})"
    weights_report: dict[str, Any] = {"path": str(weights)}
    try:
        path = weights_module.resolve_weights(weights)
        weights_report["path"] = str(path)
        card = weights_module.read_card(weights)
        actual = weights_module.file_sha256(path)
        weights_report["model_card"] = card.to_dict()
        weights_report["status"] = "installed, sha256 verified" if actual == card.sha256 else "CORRUPT: sha256 differs from the model card"
    except WeightsError as error:
        weights_report["status"] = str(error)
    models = list(weights_module.installed_models())
    return {"device": device_name, "weights": weights_report, "models": models, "versions": _versions()}


def _versions() -> dict[str, str]:
    from importlib import metadata

    from deepflash_core import __version__

    versions = {"deepflash": __version__, "python": platform.python_version()}
    for package in ("torch", "numpy", "opencv-python-headless", "Pillow", "face-recognition", "dlib-bin", "dlib", "safetensors", "pyzmq"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions

