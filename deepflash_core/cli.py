"""The ``deepflash`` command: a click group whose subcommands load lazily.

Each subcommand lives beside the code it drives; listing them here by import
path keeps ``deepflash --help`` fast (no torch import) and keeps this file short.
"""

from __future__ import annotations

import importlib
import sys

import click

from deepflash_core import __version__
from deepflash_core.errors import DeepFlashError

# name -> "module:attribute" of a click.Command
SUBCOMMANDS: dict[str, str] = {
    "process": "deepflash_core.commands.process:process",
    "info": "deepflash_core.commands.process:info",
    "render": "deepflash_core.commands.train:render",
    "train": "deepflash_core.commands.train:train",
    "eval": "deepflash_core.commands.train:evaluate",
    "serve": "server.cli:serve",
    "status": "server.cli:status",
    "install": "deepflash_core.commands.install:install",
    "web": "web_demo.cli:web",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deepflash")
def cli() -> None:
    """DeepFlash: turn a phone-flash portrait into a studio-lit one."""


def main() -> None:
    """Console entry point: a DeepFlashError becomes one line on stderr, never a traceback."""
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
