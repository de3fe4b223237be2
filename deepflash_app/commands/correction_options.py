"""The correction options every command that corrects photos takes, declared once (`process`, `batch`).

:func:`correction_options` declares them and hands the command one :class:`Options` made of them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from deepflash_client.errors import DeepFlashError, InvalidOptionError
from deepflash_client.options import BACKGROUNDS, DEFAULT_LOOK, STRENGTH_RANGE, Options, check_look


def _look(ctx: click.Context, param: click.Parameter, value: str) -> str | tuple[float | None, ...]:
    """A preset's name as it is (an unknown one refused here, before any photo, also for --server); a portrait's
    path becomes its look's numbers (measured once, before any photo, and handed to every worker)."""
    from deepflash_core.look.presets import requested_look

    path = Path(value)
    try:
        if path.is_file():
            from deepflash_app.commands.look import reference_look

            return reference_look(path)
        look = check_look(value)
        requested_look(look)
        return look
    except DeepFlashError as error:
        message = str(error)
        raise click.BadParameter(message if message.startswith(value) or not path.is_file()
                                 else f"{value}: {message}", ctx, param) from None


# --key: where the key light stands in the image, as the look's key_x (stops across the face: 1 stop is 2:1).
KEY_SIDES = {"left": -1.0, "front": 0.0, "right": 1.0}


def with_key(look: str | tuple[float | None, ...], key: str | None) -> str | tuple[float | None, ...]:
    """``look`` with its key light moved to the ``key`` side (as it is when ``key`` is None)."""
    if key is None:
        return look
    from deepflash_core.look.presets import requested_look

    return dataclasses.replace(requested_look(look), key_x=KEY_SIDES[key]).as_vector()


def correction_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --strength, --look, --key, --whole-image, --background and --red-eye/--no-red-eye (defaults from
    :class:`Options`); ``command`` is called with one ``options`` in their place."""
    defaults = Options()

    @functools.wraps(command)
    def with_options(*args: Any, strength: float, look: str | tuple[float | None, ...], key: str | None,
                     whole_image: bool, background: str, red_eye: bool, **kwargs: Any) -> Any:
        try:
            options = Options(strength=strength, whole_image=whole_image, background=background, red_eye=red_eye,
                              look=with_key(look, key))
        except InvalidOptionError as error:  # FloatRange lets NaN through (no comparison with NaN fails)
            field = str(error).split(" ", 1)[0].split("'", 1)[0]  # the message starts with the field's name
            raise click.BadParameter(str(error), param_hint=f"'--{field.replace('_', '-')}'") from None
        return command(*args, options=options, **kwargs)

    decorated: Callable[..., Any] = with_options
    for option in reversed([
        click.option("--strength", type=click.FloatRange(*STRENGTH_RANGE),
                     default=defaults.strength, show_default=True,
                     help="0 leaves the photo unchanged, 1 applies the full correction."),
        click.option("--look", metavar="NAME|PHOTO", callback=_look, default=DEFAULT_LOOK, show_default=True,
                     help="The light to correct toward: a preset (`deepflash looks` lists them) or a studio portrait "
                          "whose look to take."),
        click.option("--key", type=click.Choice(tuple(KEY_SIDES)),
                     help="Put the look's key light on this side of the image (a 2:1 key-to-fill ratio), or in front."),
        click.option("--whole-image", is_flag=True,
                     help="Correct the whole frame as one crop instead of each detected face."),
        click.option("--background", type=click.Choice(BACKGROUNDS), default=defaults.background, show_default=True,
                     help="keep: everything outside the person stays untouched; lift: a smooth brightening of the backdrop."),
        click.option("--red-eye/--no-red-eye", default=defaults.red_eye, show_default=True,
                     help="Replace red pupils by dark ones and fill in small flash glare on glasses."),
    ]):
        decorated = option(decorated)
    return decorated
