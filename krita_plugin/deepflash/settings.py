"""The docker's settings, declared once, stored as JSON in the user's DeepFlash folder."""

from __future__ import annotations

from pathlib import Path

from deepflash_client.errors import InvalidOptionError
from deepflash_client.options import BACKGROUNDS, DEFAULT_LOOK, STRENGTH_RANGE, Options, check_look
from deepflash_editor.paths import user_config_dir
from deepflash_editor.settings import Setting, SettingsFile

_ADDRESS_PREFIXES = ("tcp://", "ipc://")

KRITA_SETTINGS = (
    Setting("strength", float, Options().strength, "How much of the flash correction to apply",
            lambda value: STRENGTH_RANGE[0] <= value <= STRENGTH_RANGE[1]),
    Setting("whole_image", bool, Options().whole_image, "Correct the whole image instead of only the faces"),
    Setting("background", str, Options().background, "Keep or lift the backdrop behind the person",
            lambda value: value in BACKGROUNDS),
    Setting("red_eye", bool, Options().red_eye, "Repair red pupils"),
    Setting("with_matte", bool, Options().with_matte, "Mask the new layer with the person's matte"),
    Setting("look", str, DEFAULT_LOOK, "The Look menu's entry: a preset, as-shot, or reference (a layer's look)",
            lambda value: _look_name(value)),
    Setting("start_server", bool, True, "Start the local server when none answers"),
    Setting("address", str, "", "Server address; empty uses the one recorded at install",
            lambda value: value == "" or (value.startswith(_ADDRESS_PREFIXES) and len(value) > 6)),
)


def _look_name(value: str) -> bool:
    try:
        return isinstance(check_look(value), str)
    except InvalidOptionError:
        return False


def options_of(settings: SettingsFile) -> Options:
    """The request the docker's settings describe (a reference's look replaces ``look`` when the job is sent)."""
    return Options(strength=settings["strength"], whole_image=settings["whole_image"],
                   background=settings["background"], red_eye=settings["red_eye"],
                   with_matte=settings["with_matte"], look=settings["look"])


def krita_settings(path: Path | None = None) -> SettingsFile:
    """The docker's settings, loaded (bad values fall back to defaults; see ``SettingsFile.load``)."""
    return SettingsFile(KRITA_SETTINGS, path or user_config_dir() / "krita-docker.json")
