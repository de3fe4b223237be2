"""``deepflash info``: device, weights and their model card, library versions."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import click

from deepflash_client.errors import DeepFlashError


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
    from deepflash_client.errors import WeightsError
    from deepflash_core.device import select_device
    from deepflash_core.network import weights as weights_module

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

