"""The ``deepflash`` command: a click group whose subcommands load lazily.

Each subcommand lives in ``deepflash_app/commands/``; listing them here by import
path keeps ``deepflash --help`` fast (no torch import) and keeps this file short.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from deepflash_client.errors import DeepFlashError
from deepflash_core import __version__

# name -> ("module:attribute" of a click.Command, one-line help shown by `deepflash --help`).
# The help is written here so that listing the commands imports none of them (torch, gradio).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "process": ("deepflash_app.commands.process:process", "Correct the flash look in photos or folders."),
    "batch": ("deepflash_app.commands.batch:batch", "Correct thousands of photos on Ray, here or on a cluster."),
    "info": ("deepflash_app.commands.info:info", "Show device, weights, model card and versions."),
    "models": ("deepflash_app.commands.models:models", "List the installed models: default and candidates."),
    "look": ("deepflash_app.commands.look:look", "Print a portrait's look (light and rendering); save it as a preset."),
    "looks": ("deepflash_app.commands.look:looks", "List the looks a correction can take."),
    "render": ("deepflash_app.commands.train:render", "Render synthetic flash/studio training pairs."),
    "train": ("deepflash_app.commands.train:train", "Train a model on synthetic (or real) pairs."),
    "eval": ("deepflash_app.commands.train:evaluate", "Evaluate a model against the identity baseline."),
    "serve": ("deepflash_app.commands.server:serve", "Run the local inference server that keeps the model warm."),
    "status": ("deepflash_app.commands.server:status", "Say whether a server answers, with its device, model and log."),
    "stop": ("deepflash_app.commands.server:stop", "Stop the local server (one a plug-in started, too)."),
    "install": ("deepflash_app.commands.install:install", "Install the GIMP or Krita plug-in."),
    "web": ("deepflash_app.commands.web:web", "Open the correction in a browser page."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        module_name, attribute = SUBCOMMANDS[cmd_name][0].split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deepflash")
def cli() -> None:
    """DeepFlash: turn a phone-flash portrait into a studio-lit one."""


def main() -> None:
    """Console entry point: a DeepFlashError becomes one line on stderr, never a traceback."""
    # Before torch loads: idle OpenMP threads sleep rather than spin, so an editor or a second job
    # running beside DeepFlash is not starved (and DeepFlash is not slowed by them).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except DeepFlashError as error:
        click.echo(f"deepflash: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
