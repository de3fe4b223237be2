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


# The address of a DeepFlash server has one option name on every command that talks to one, and the other
# spelling works too: a user who typed one types it for the next command.
SERVER_COMMANDS = ("status", "stop", "process", "web")


@pytest.mark.parametrize("name", SERVER_COMMANDS)
def test_every_command_that_talks_to_a_server_takes_server_and_address(name):
    command = cli.get_command(click.Context(cli), name)
    spellings = {opt for param in command.params for opt in param.opts}
    assert {"--server", "--address"} <= spellings, sorted(spellings)
    [param] = [param for param in command.params if "--server" in param.opts]
    assert "--address" in param.opts  # one option, two spellings: not two options that disagree


def test_status_and_stop_accept_server(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from server_helpers import free_port

    monkeypatch.setenv("DEEPFLASH_STATE_DIR", str(tmp_path))
    address = f"tcp://127.0.0.1:{free_port()}"
    status = CliRunner().invoke(cli, ["status", "--server", address, "--timeout", "0.5"])
    assert status.exit_code == 3 and f"No DeepFlash server answers at {address}" in status.output
    stop = CliRunner().invoke(cli, ["stop", "--server", address])
    assert stop.exit_code == 0 and stop.output.strip() == f"No DeepFlash server runs at {address}."
