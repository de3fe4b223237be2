"""The `deepflash` command group: every listed subcommand exists, and listing them stays cheap."""

import subprocess
import sys

import click
import pytest

from deepflash_app.cli import SUBCOMMANDS, cli


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_listed_subcommand_resolves_to_a_click_command(name):
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)
    assert command.help  # `deepflash NAME --help` has something to say


def test_help_lists_every_subcommand_without_importing_torch():
    code = ("import sys; sys.argv = ['deepflash', '--help']\n"
            "from deepflash_app.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for name in SUBCOMMANDS:
        assert f"  {name} " in result.stdout
    assert result.stdout.strip().endswith("NO-TORCH")


def test_unknown_subcommand_is_one_line_and_non_zero():
    result = subprocess.run([sys.executable, "-c", "from deepflash_app.cli import main; main()", "flash-it"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "No such command" in result.stderr and "Traceback" not in result.stderr
