"""``deepflash install gimp|krita``: put the editor plug-ins where the editors look for them.

The plug-ins stay thin: the packages they need (the client kit ``deepflash_client`` and the shared editor
package ``deepflash_editor``, each copied whole) are "vendored" next to them, and a small JSON install record names the server address, this
environment's Python (for the pyzmq-free stdio helper) and the command that starts ``deepflash serve``.
``--uninstall`` removes exactly what an install created and says what stays; ``--purge`` removes that too.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import click

import deepflash_client
import deepflash_editor
import deepflash_gimp
import deepflash_krita
from deepflash_app.commands import leftovers
from deepflash_client.errors import DeepFlashError, InvalidOptionError
from deepflash_client.protocol import DEFAULT_ADDRESS
from deepflash_client.user_folders import home_dir, is_unix, user_folder
from deepflash_core import __version__

PLUGIN_NAME = "deepflash"
RECORD_NAME = "deepflash_install.json"
VENDORED = (deepflash_client, deepflash_editor)
"""The packages copied whole into each plug-in's ``vendor/`` folder."""
GIMP_SOURCE = Path(deepflash_gimp.__file__).resolve().parent / PLUGIN_NAME
KRITA_SOURCE = Path(deepflash_krita.__file__).resolve().parent
KRITARC_SECTION = "[python]"
KRITARC_KEY = f"enable_{PLUGIN_NAME}"


class InstallError(DeepFlashError):
    """A plug-in could not be installed or removed."""


# --- where the editors look ---------------------------------------------------------------------------

def gimp_plugins_dir(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """GIMP 3.0's per-user ``plug-ins`` folder (the Flatpak one when only the Flatpak GIMP has run)."""
    native = user_folder("config", environ, platform) / "GIMP" / "3.0"
    flatpak = home_dir(environ) / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP" / "3.0"
    return _unless_only_flatpak_ran(native, flatpak, platform) / "plug-ins"


def krita_pykrita_dir(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """Krita's per-user ``pykrita`` folder (the Flatpak one when only the Flatpak Krita has run)."""
    native = user_folder("data", environ, platform) / "krita"
    flatpak = home_dir(environ) / ".var" / "app" / "org.kde.krita" / "data" / "krita"
    return _unless_only_flatpak_ran(native, flatpak, platform) / "pykrita"


def kritarc_path(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """Krita's settings file, where Python plug-ins are enabled."""
    return user_folder("preferences", environ, platform) / "kritarc"


def _unless_only_flatpak_ran(native: Path, flatpak: Path, platform: str | None) -> Path:
    """An editor's ``native`` folder, or on Linux its Flatpak one when only the Flatpak editor has made its own."""
    return flatpak if is_unix(platform) and flatpak.is_dir() and not native.is_dir() else native


# --- what gets installed --------------------------------------------------------------------------------

def serve_command(python: str = sys.executable) -> list[str]:
    """The command line that starts ``deepflash serve`` from this environment (without ``--bind``)."""
    script = Path(python).with_name("deepflash.exe" if os.name == "nt" else "deepflash")
    if script.is_file():
        return [str(script), "serve"]
    return [python, "-m", "deepflash_app", "serve"]


def install_record(address: str, python: str = sys.executable) -> dict[str, object]:
    """The JSON a plug-in reads at start: server address, this environment's Python and server command, and the
    presets its Look menu offers."""
    from deepflash_core.look.presets import load_preset, preset_names

    looks = [{"name": name, "description": load_preset(name).description} for name in preset_names()]
    return {"address": address, "python": python, "serve_command": serve_command(python), "version": __version__,
            "looks": looks}


def _copy_python_files(source: Path, target: Path) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(source.rglob("*")):
        if "__pycache__" in path.parts or path.is_dir() or path.suffix not in (".py", ".json", ".desktop"):
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        copied.append(destination)
    return copied


def _vendor(plugin_dir: Path) -> None:
    """Copy the :data:`VENDORED` packages into ``plugin_dir/vendor`` (the plug-in puts it on ``sys.path``)."""
    for package in VENDORED:
        _copy_python_files(Path(package.__file__).resolve().parent, plugin_dir / "vendor" / package.__name__)


def _write_record(plugin_dir: Path, address: str) -> None:
    (plugin_dir / RECORD_NAME).write_text(json.dumps(install_record(address), indent=2) + "\n", encoding="utf-8")


def _check_ours(plugin_dir: Path) -> None:
    """Refuse to overwrite or delete a folder DeepFlash did not create."""
    if plugin_dir.exists() and not (plugin_dir / RECORD_NAME).is_file():
        raise InstallError(f"{plugin_dir} exists but was not installed by DeepFlash; move it away and try again.")


def _check_address(address: str) -> None:
    if not address.startswith(("tcp://", "ipc://")):
        raise InvalidOptionError(f"--address {address!r} is not a ZeroMQ address such as {DEFAULT_ADDRESS}.")


def install_gimp(target: Path, address: str) -> Path:
    """Install the GIMP plug-in into the ``plug-ins`` folder ``target``; returns the plug-in's folder."""
    return _install_plugin(GIMP_SOURCE, target, address, executable=f"{PLUGIN_NAME}.py")


def install_krita(target: Path, address: str) -> list[Path]:
    """Install the Krita plug-in (``deepflash.desktop`` and ``deepflash/``) into the ``pykrita`` folder ``target``."""
    plugin_dir = _install_plugin(KRITA_SOURCE / PLUGIN_NAME, target, address)
    desktop = target / f"{PLUGIN_NAME}.desktop"
    shutil.copy2(KRITA_SOURCE / f"{PLUGIN_NAME}.desktop", desktop)
    return [desktop, plugin_dir]


def krita_zip(output: Path, address: str) -> Path:
    """Write the zip Krita's "Import Python Plugin from File…" accepts (desktop file and package at its root)."""
    with tempfile.TemporaryDirectory() as folder:
        install_krita(Path(folder), address)
        output.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(folder).as_posix())
    return output


def _install_plugin(source: Path, target: Path, address: str, executable: str | None = None) -> Path:
    """Put the plug-in at ``source``, its vendored kit and its install record into ``target/deepflash`` as a
    whole (built beside it, then swapped in); ``executable``: the file that needs the run bit."""
    plugin_dir = target / PLUGIN_NAME
    _check_ours(plugin_dir)
    staging = Path(tempfile.mkdtemp(prefix=".deepflash-", dir=_made(target)))
    try:
        _copy_python_files(source, staging)
        if executable is not None:
            (staging / executable).chmod(0o755)  # GIMP only runs plug-ins with the run bit
        _vendor(staging)
        _write_record(staging, address)
        _replace(staging, plugin_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return plugin_dir


def _made(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InstallError(f"Cannot create {folder}: {error.strerror}.") from None
    return folder


def _replace(staging: Path, plugin_dir: Path) -> None:
    # Build beside the target, then swap: a failed copy never leaves half a plug-in behind.
    if plugin_dir.exists():
        shutil.rmtree(plugin_dir)
    staging.rename(plugin_dir)


def uninstall(paths: list[Path]) -> list[Path]:
    """Remove what an install created; returns what was removed."""
    removed = []
    for path in paths:
        if path.is_dir():
            _check_ours(path)
            shutil.rmtree(path)
            removed.append(path)
        elif path.is_file():
            path.unlink()
            removed.append(path)
    return removed


# --- Krita's settings file ------------------------------------------------------------------------------

def set_krita_enabled(kritarc: Path, enabled: bool) -> bool:
    """Add (or remove) ``enable_deepflash=true`` in the ``[python]`` section of ``kritarc``.

    A plain line edit: Krita writes kritarc with Qt's INI flavour, which ``configparser`` would
    rewrite. Returns whether the file changed.
    """
    lines = kritarc.read_text(encoding="utf-8").splitlines() if kritarc.is_file() else []
    kept = [line for line in lines if line.strip().split("=", 1)[0].strip() != KRITARC_KEY]
    if enabled:
        entry = f"{KRITARC_KEY}=true"
        if KRITARC_SECTION in (line.strip() for line in kept):
            index = [line.strip() for line in kept].index(KRITARC_SECTION)
            kept.insert(index + 1, entry)
        else:
            kept += ([""] if kept and kept[-1].strip() else []) + [KRITARC_SECTION, entry]
    if kept == lines:
        return False
    kritarc.parent.mkdir(parents=True, exist_ok=True)
    kritarc.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return True


# --- after an uninstall ---------------------------------------------------------------------------

def _check_purge(remove: bool, purge: bool) -> None:
    if purge and not remove:
        raise InvalidOptionError("--purge goes with --uninstall.")


def _after_uninstall(address: str, purge: bool, purge_command: str) -> None:
    """Say what stays (logs, settings, a running server), or remove it with ``purge``."""
    left = leftovers.find(address)
    for line in leftovers.purge(left) if purge else leftovers.describe(left, purge_command):
        click.echo(line)


# --- the commands ------------------------------------------------------------------------------------

@click.group()
def install() -> None:
    """Install the GIMP or Krita plug-in for the current user (--uninstall removes it)."""


@install.command()
@click.option("--target", type=click.Path(file_okay=False, path_type=Path),
              help="GIMP's plug-ins folder (default: the per-user GIMP 3.0 one).")
@click.option("--address", default=DEFAULT_ADDRESS, show_default=True, help="Server address the plug-in uses.")
@click.option("--uninstall", "remove", is_flag=True, help="Remove the plug-in instead (and say what stays).")
@click.option("--purge", is_flag=True, help="With --uninstall: also remove the logs and settings, and stop a "
              "server a plug-in started.")
def gimp(target: Path | None, address: str, remove: bool, purge: bool) -> None:
    """GIMP 3: Filters → Enhance → Flash to Studio (DeepFlash)…"""
    target = target or gimp_plugins_dir()
    _check_purge(remove, purge)
    if remove:
        server_address = leftovers.recorded_address(target / PLUGIN_NAME)
        removed = uninstall([target / PLUGIN_NAME])
        click.echo(f"Removed {removed[0]}." if removed else f"Nothing to remove in {target}.")
        _after_uninstall(server_address, purge, "deepflash install gimp --uninstall --purge")
        return
    _check_address(address)
    plugin_dir = install_gimp(target, address)
    click.echo(f"Installed the GIMP plug-in in {plugin_dir}")
    click.echo(f"  server address {address}; DeepFlash Python {sys.executable}")
    click.echo("Restart GIMP, then use Filters → Enhance → Flash to Studio (DeepFlash)…")


@install.command()
@click.option("--target", type=click.Path(file_okay=False, path_type=Path),
              help="Krita's pykrita folder (default: the per-user one).")
@click.option("--kritarc", type=click.Path(dir_okay=False, path_type=Path),
              help="Krita's settings file, where the plug-in is enabled (default: the per-user one).")
@click.option("--address", default=DEFAULT_ADDRESS, show_default=True, help="Server address the plug-in uses.")
@click.option("--zip", "zip_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a zip for Krita's Tools → Scripts → Import Python Plugin from File… instead.")
@click.option("--uninstall", "remove", is_flag=True, help="Remove the plug-in instead (and say what stays).")
@click.option("--purge", is_flag=True, help="With --uninstall: also remove the logs and settings, and stop a "
              "server a plug-in started.")
def krita(target: Path | None, kritarc: Path | None, address: str, zip_path: Path | None, remove: bool,
          purge: bool) -> None:
    """Krita 5.2: a DeepFlash docker (Settings → Dockers → DeepFlash)."""
    _check_address(address)
    _check_purge(remove, purge)
    if zip_path is not None:
        if remove:
            raise InvalidOptionError("--zip and --uninstall do not go together.")
        click.echo(f"Wrote {krita_zip(zip_path, address)}")
        click.echo("In Krita: Tools → Scripts → Import Python Plugin from File…, choose this zip, restart Krita.")
        return
    target = target or krita_pykrita_dir()
    kritarc = kritarc or kritarc_path()
    if remove:
        server_address = leftovers.recorded_address(target / PLUGIN_NAME)
        removed = uninstall([target / PLUGIN_NAME, target / f"{PLUGIN_NAME}.desktop"])
        for path in removed:
            click.echo(f"Removed {path}")
        if set_krita_enabled(kritarc, False):
            click.echo(f"Removed {KRITARC_KEY} from {kritarc}")
        if not removed:
            click.echo(f"Nothing to remove in {target}.")
        _after_uninstall(server_address, purge, "deepflash install krita --uninstall --purge")
        return
    for path in install_krita(target, address):
        click.echo(f"Installed {path}")
    if set_krita_enabled(kritarc, True):
        click.echo(f"Enabled the plug-in in {kritarc}")
    click.echo(f"  server address {address}; DeepFlash Python {sys.executable}")
    click.echo("Restart Krita, then show the docker with Settings → Dockers → DeepFlash.")
