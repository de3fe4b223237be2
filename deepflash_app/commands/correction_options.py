"""The correction options every command that corrects photos takes, declared once (`process`, `batch`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from deepflash_core.errors import InvalidOptionError
from deepflash_core.options import BACKGROUNDS, STRENGTH_RANGE, Options


def _finite_strength(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """``FloatRange`` lets NaN through (no comparison with NaN fails); :class:`Options` refuses it."""
    try:
        return Options(strength=value).strength
    except InvalidOptionError as error:
        raise click.BadParameter(str(error), ctx, param) from None


def correction_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --strength, --whole-image, --background and --red-eye/--no-red-eye (defaults from :class:`Options`)."""
    defaults = Options()
    for option in reversed([
        click.option("--strength", type=click.FloatRange(*STRENGTH_RANGE), callback=_finite_strength,
                     default=defaults.strength, show_default=True,
                     help="0 leaves the photo unchanged, 1 applies the full correction."),
        click.option("--whole-image", is_flag=True,
                     help="Correct the whole frame as one crop instead of each detected face."),
        click.option("--background", type=click.Choice(BACKGROUNDS), default=defaults.background, show_default=True,
                     help="keep: everything outside the person stays untouched; lift: a smooth brightening of the backdrop."),
        click.option("--red-eye/--no-red-eye", default=defaults.red_eye, show_default=True,
                     help="Replace red pupils by dark ones and fill in small flash glare on glasses."),
    ]):
        command = option(command)
    return command
