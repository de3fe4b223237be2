"""The body of GIMP's "Flash to Studio (DeepFlash)…": read the layer, ask the server, add the result.

GIMP's modules (``Gimp``, ``Gegl``) are passed in rather than imported, so this file runs under
unit tests with small fakes and inside GIMP unchanged. Nothing here touches the original layer:
the result always goes to a new layer above it, inside one undo group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deepflash_client.options import Options
from deepflash_editor import messages
from deepflash_editor.job import Context, CorrectionJob, Outcome, call_with_heartbeat, run_job
from deepflash_editor.looks import REFERENCE, Reference

LAYER_NAME = "Studio light (DeepFlash)"
WHOLE_IMAGE_HINT = "choose “Whole image” in the DeepFlash dialog."
REFERENCE_LABEL = "From another open image or layer"
REFERENCE_WHAT = "reference image or layer (“Reference layer”)"
MATTE_FORMAT = "Y u8"
"""The matte's values are opacities: written as linear grey, GIMP keeps them whatever the mask's storage."""


@dataclass(frozen=True)
class Params:
    """The procedure's arguments; ``reference`` is the layer whose look to take (with the Look :data:`REFERENCE`)."""

    options: Options = field(default_factory=Options)
    address: str = ""
    start_server: bool = True
    reference: Any = None


@dataclass(frozen=True)
class WireFormat:
    """A babl pixel format and the protocol layout it produces."""

    babl: str
    dtype: str
    channels: int


def wire_format(precision_name: str, has_alpha: bool) -> WireFormat:
    """The babl format to read and write a drawable with, for an image precision.

    Values are always requested non-linear (``R'G'B'``): the model expects sRGB-encoded samples,
    and babl converts linear and grayscale images on the way in and back on the way out.

    Args:
        precision_name: ``Gimp.Precision`` value name, e.g. ``"GIMP_PRECISION_U16_LINEAR"``.
        has_alpha: whether the drawable has an alpha channel (it is sent and kept untouched).
    """
    kind = precision_name.upper().removeprefix("GIMP_PRECISION_").split("_")[0]
    # The protocol carries u8, u16 and f32; 32-bit integer, half and double go through float.
    dtype, babl_type = {"U8": ("u8", "u8"), "U16": ("u16", "u16")}.get(kind, ("f32", "float"))
    model = "R'G'B'A" if has_alpha else "R'G'B'"
    return WireFormat(f"{model} {babl_type}", dtype, 4 if has_alpha else 3)


class FilterError(Exception):
    """Input the filter refuses (its text is shown to the user)."""


def check_input(gimp: Any, image: Any, drawables: list[Any]) -> Any:
    """The one layer to process, or :class:`FilterError` saying why not.

    The menu's sensitivity mask only greys the entry; batch callers can pass anything.
    """
    if len(drawables) != 1:
        raise FilterError(f"Select exactly one layer (now {len(drawables)} are selected).")
    drawable = drawables[0]
    if not drawable.is_layer():
        raise FilterError("Select a layer: DeepFlash does not work on channels or layer masks.")
    if image.get_base_type() not in (gimp.ImageBaseType.RGB, gimp.ImageBaseType.GRAY):
        raise FilterError("DeepFlash works on RGB and grayscale images; convert this one with Image → Mode → RGB.")
    return drawable


def apply_flash(gimp: Any, gegl: Any, image: Any, drawables: list[Any], params: Params,
                context: Context, interactive: bool = False) -> Outcome:
    """Process the selected layer and add the result as a new layer above it.

    Args:
        gimp: the ``Gimp`` module; ``gegl`` the ``Gegl`` module.
        image: the ``Gimp.Image``; ``drawables`` the selected drawables.
        params: the procedure's arguments.
        context: how to reach the server (see :class:`deepflash_editor.job.Context`).
        interactive: a user started it (menu, dialog, repeat): success is also said in the status bar.

    Returns:
        The job's outcome; on success the new layer is in the image.
    """
    try:
        drawable = check_input(gimp, image, drawables)
    except FilterError as error:
        return Outcome(False, "bad_input", str(error))
    fmt = wire_format(image.get_precision().value_name, drawable.has_alpha())
    try:
        pixels, width, height = read_pixels(gegl, drawable, fmt)
        reference = read_reference(gegl, params.reference) if params.options.look == REFERENCE else None
    except FilterError as error:
        return Outcome(False, "bad_input", str(error))

    gimp.progress_init("Flash to Studio: waiting for the DeepFlash server…")
    context.wait = lambda call: call_with_heartbeat(call, gimp.progress_pulse, caller=context.caller)
    try:
        job = CorrectionJob(pixels, width, height, fmt.channels, fmt.dtype, params.options, reference)
        outcome = run_job(job, context, LAYER_NAME)
        if outcome.ok:
            add_result_layer(gimp, gegl, image, drawable, fmt, outcome.pixels, width, height, outcome.matte)
            gimp.progress_update(1.0)
            report(gimp, outcome, params.options.whole_image, interactive)  # while the progress still has its window
        return outcome
    finally:
        gimp.progress_end()


def read_pixels(gegl: Any, drawable: Any, fmt: WireFormat) -> tuple[bytes, int, int]:
    """A drawable's pixels in ``fmt``, with its width and height; :class:`FilterError` when it is empty."""
    source = drawable.get_buffer()
    rect = source.get_extent()
    if rect.width <= 0 or rect.height <= 0:
        raise FilterError("The layer is empty.")
    return bytes(source.get(rect, 1.0, fmt.babl, gegl.AbyssPolicy.CLAMP)), rect.width, rect.height


def read_reference(gegl: Any, layer: Any) -> Reference:
    """The pixels of the layer chosen as the look's reference (any open image, any precision).

    Raises:
        FilterError: none is chosen, or it is empty.
    """
    if layer is None:
        raise FilterError(messages.no_reference(REFERENCE_WHAT))
    fmt = wire_format(layer.get_image().get_precision().value_name, layer.has_alpha())
    pixels, width, height = read_pixels(gegl, layer, fmt)
    return Reference(pixels, width, height, fmt.channels, fmt.dtype)


def add_result_layer(gimp: Any, gegl: Any, image: Any, drawable: Any, fmt: WireFormat, pixels: bytes,
                     width: int, height: int, matte: bytes | None = None) -> Any:
    """A new layer above ``drawable`` holding ``pixels`` (one undo step).

    Its mask is the subject ``matte`` (one byte per pixel) when there is one, and the selection if there is
    one; with both, where both are (GIMP's intersection: the lesser value).
    """
    image.undo_group_start()
    gimp.context_push()
    try:
        base = image.get_base_type()
        if base == gimp.ImageBaseType.GRAY:
            kind = gimp.ImageType.GRAYA_IMAGE if fmt.channels == 4 else gimp.ImageType.GRAY_IMAGE
        else:
            kind = gimp.ImageType.RGBA_IMAGE if fmt.channels == 4 else gimp.ImageType.RGB_IMAGE
        layer = gimp.Layer.new(image, LAYER_NAME, width, height, kind, 100.0, gimp.LayerMode.NORMAL)
        image.insert_layer(layer, drawable.get_parent(), image.get_item_position(drawable))
        _, offset_x, offset_y = drawable.get_offsets()
        layer.set_offsets(offset_x, offset_y)
        target = layer.get_buffer()
        target.set(gegl.Rectangle.new(0, 0, width, height), fmt.babl, pixels)
        target.flush()
        selected = not gimp.Selection.is_empty(image)
        # A mask instead of blending pixels: the user sees and can edit what the selection kept.
        if matte is not None:
            mask = layer.create_mask(gimp.AddMaskType.WHITE)
            layer.add_mask(mask)
            mask_buffer = mask.get_buffer()
            mask_buffer.set(gegl.Rectangle.new(0, 0, width, height), MATTE_FORMAT, matte)
            mask_buffer.flush()
            if selected:  # the selection is in image coordinates, the mask at the layer's offsets
                mask.combine_masks(image.get_selection(), gimp.ChannelOps.INTERSECT, -offset_x, -offset_y)
        elif selected:
            layer.add_mask(layer.create_mask(gimp.AddMaskType.SELECTION))
        layer.update(0, 0, width, height)
        return layer
    finally:
        gimp.context_pop()
        image.undo_group_end()
        gimp.displays_flush()


def report(gimp: Any, outcome: Outcome, whole_image: bool, interactive: bool) -> None:
    """Tell the user about a success: a short line and the server's warnings.

    ``gimp.message`` from a plug-in with a progress on an image window lands in that window's status
    bar when the text is one short line (a longer one, or one without a progress, opens a dialog),
    like Krita's docker line. Batch callers get no success line: the new layer and the return
    status say it.
    """
    if interactive:
        gimp.message(messages.corrected(outcome.faces, whole_image, outcome.seconds))
    for warning in outcome.warnings:
        gimp.message(f"DeepFlash: {warning}")


def may_start_server(interactive: bool, params: Params, ask: Callable[[], bool]) -> Callable[[], bool]:
    """The server-down policy: batch runs follow ``start-server``; dialogs ask when it is off."""
    if params.start_server:
        return lambda: True
    return ask if interactive else (lambda: False)
