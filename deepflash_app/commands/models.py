"""``deepflash models``: the installed models (default and candidates) with their kind and hypothesis."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per model instead of text.")
def models(as_json: bool) -> None:
    """List the installed models; run one with `deepflash process --weights NAME`."""
    for entry in describe_models():
        if as_json:
            click.echo(json.dumps(entry))
            continue
        click.echo(f"{entry['name']:<24} {entry['status']}")
        if entry.get("kind"):
            click.echo(f"{'':<24} {entry['kind']}, {entry['parameters']:,} parameters, {entry['megabytes']:.1f} MB")
        if entry.get("hypothesis"):
            click.echo(f"{'':<24} hypothesis: {entry['hypothesis']}")


def describe_models() -> list[dict[str, object]]:
    """Name, path, kind, size and hypothesis of every installed model; a broken one says why."""
    from deepflash_client.errors import WeightsError
    from deepflash_core.network.weights import DEFAULT_NAME, installed_models, read_card

    entries: list[dict[str, object]] = []
    for name, path in installed_models().items():
        entry: dict[str, object] = {"name": name, "path": str(path)}
        try:
            card = read_card(None if name == DEFAULT_NAME else path)
        except WeightsError as error:
            entry["status"] = str(error)
        else:
            entry.update(status=str(path), kind=card.architecture, parameters=card.parameters,
                         megabytes=path.stat().st_size / 1e6, hypothesis=card.hypothesis)
        entries.append(entry)
    return entries
