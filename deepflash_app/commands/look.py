"""``deepflash look`` (a photo's look, saved as a preset) and ``deepflash looks`` (the presets)."""

from __future__ import annotations

import csv
import json
import shlex
import statistics
import sys
from pathlib import Path

import click

from deepflash_client.options import LOOK_AS_SHOT, LOOK_FIELDS, LOOK_NAMES


def reference_look(path: Path) -> tuple[float, ...]:
    """The look of the reference photo at ``path``, as a vector (its largest face).

    Raises:
        ImageReadError, LookReferenceError: the photo cannot give a look (one line says why).
    """
    from deepflash_core.imageio import load_photo
    from deepflash_core.look.reference import describe_reference

    return describe_reference(load_photo(path).pixels).as_vector()  # type: ignore[return-value]


def _manifest_row(path: Path) -> tuple[str, dict[str, str]]:
    """The photo's path inside its collection and its row of the collection's ``manifest.csv``, when there is one."""
    for folder in path.resolve().parents:
        manifest = folder / "manifest.csv"
        if manifest.is_file():
            relative = path.resolve().relative_to(folder).as_posix()
            with manifest.open(newline="", encoding="utf-8") as rows:
                for row in csv.DictReader(rows):
                    if row.get("file") == relative:
                        return relative, row
            return relative, {}
    return path.name, {}


def _command(files: list[str], save: Path, keep: tuple[str, ...], licence: str, attribution: str, description: str) -> str:
    """The command that writes this preset again, run in the photos' collection: no path of this machine in it."""
    words = ["deepflash", "look", *files, "--save", save.name]
    words += [word for name in keep for word in ("--keep", name)]
    for flag, value in (("--licence", licence), ("--attribution", attribution), ("--description", description)):
        words += [flag, value] if value else []
    return shlex.join(words)


@click.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--save", type=click.Path(path_type=Path, dir_okay=False), help="Write the look (the median over the photos) as a preset file.")
@click.option("--description", default="", help="The preset's one-line description (with --save).")
@click.option("--keep", multiple=True, type=click.Choice(LOOK_NAMES), help="Leave this number to the photo being corrected (repeatable; with --save).")
@click.option("--licence", "licence", default="", help="The photos' licence, when no manifest.csv of their collection says it.")
@click.option("--attribution", default="", help="The photos' attribution (credited in the preset).")
@click.option("--json", "as_json", is_flag=True, help="Print the look as JSON.")
def look(photos: tuple[Path, ...], save: Path | None, description: str, keep: tuple[str, ...], licence: str,
         attribution: str, as_json: bool) -> None:
    """Print the look (light and rendering) of portraits; with --save, write it as a preset."""
    from deepflash_client.errors import DeepFlashError

    looks = []
    for photo in photos:
        try:
            looks.append(reference_look(photo))
        except DeepFlashError as error:
            message = str(error)
            click.echo(f"deepflash: {message if message.startswith(str(photo)) else f'{photo}: {message}'}", err=True)
    if len(looks) < len(photos):
        sys.exit(1)
    median = {name: round(statistics.median(values), 3) for name, values in zip(LOOK_NAMES, zip(*looks))}
    if as_json:
        click.echo(json.dumps(median))
    else:
        for field in LOOK_FIELDS:
            click.echo(f"{field.name:<16} {median[field.name]:>8.2f} {field.unit:<8} {field.meaning}")
    if save is None:
        return
    sources = []
    for photo, values in zip(photos, looks):
        relative, row = _manifest_row(photo)
        sources.append({"file": relative, "licence": row.get("license") or licence, "attribution": attribution,
                        "source": "/".join(filter(None, (row.get("repo"), row.get("commit"), row.get("repo_path")))),
                        "look": dict(zip(LOOK_NAMES, (round(v, 3) for v in values)))})
    preset = {"name": save.stem, "description": description,
              "look": {name: None if name in keep else value for name, value in median.items()},
              "command": _command([source["file"] for source in sources], save, keep, licence, attribution, description),
              "sources": sources}
    save.write_text(json.dumps(preset, indent=1) + "\n", encoding="utf-8")
    click.echo(f"deepflash: wrote {save}", err=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per preset.")
def looks(as_json: bool) -> None:
    """List the looks a correction can take (`deepflash process --look NAME`); a portrait's path works too."""
    from deepflash_client.options import DEFAULT_LOOK
    from deepflash_core.look.presets import load_preset, preset_names

    for name in preset_names():
        preset = load_preset(name)
        if as_json:
            click.echo(json.dumps({"name": name, "default": name == DEFAULT_LOOK, "description": preset.description,
                                   "look": preset.look.to_dict(), "portraits": len(preset.sources)}))
            continue
        default = " (default)" if name == DEFAULT_LOOK else ""
        click.echo(f"{name + default:<26} {preset.description} [{len(preset.sources)} portraits]")
    if not as_json:
        click.echo(f"{LOOK_AS_SHOT:<26} the photo's own look: only the flash's local marks are corrected")
