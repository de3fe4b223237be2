"""The look stage of the pipeline: the photo's own look measured, and the global move to the requested one.

The move is a function of colour (and, for the key light, a smooth function of place), so it is computed
on a copy of the person's region at most ``LOW_SIDE`` pixels a side and brought to full resolution like
the network's correction: by the guided upsampler, which fits it in every small window as an affine
function of the photo's own colours and applies that fit to the full-resolution pixels, strip by strip,
straight into the output through the subject matte. A photo no larger than that copy is mapped pixel by
pixel (:func:`deepflash_core.look.transfer.apply_transform`).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import torch

from deepflash_client.options import Options
from deepflash_core.detection.faces import Face
from deepflash_core.look.axes import FaceAxes
from deepflash_core.look.descriptor import describe
from deepflash_core.look.values import Look
from deepflash_core.look.presets import requested_look
from deepflash_core.look.transfer import LookTransform, apply_transform, mapped_rgb, plan_transform
from deepflash_core.pixels import PIXEL_SCALE, to_float
from deepflash_core.reconstruction import upsample
from deepflash_core.reconstruction.blend import matte_span

# Longer side of the copy the move is computed on.
LOW_SIDE = 384
# How far (L*) past the global part's face lightness the network is asked to take the face. Trained with each
# person's own studio look, the network would carry any face to the requested face's lightness: a reference of
# another skin would make the skin its own (the global part moves the face only a bounded share for that reason).
NETWORK_FACE_BAND = 5.0


def correct_look(pixels: np.ndarray, output: np.ndarray, faces: list[Face], subject: np.ndarray, options: Options,
                 warnings: list[str]) -> Look | None:
    """Move the person's light to ``options.look``, written into ``output`` through the ``subject`` matte.

    The photo's look is measured on its largest face (one light falls on everyone in a photo). In the
    whole-image mode there is no face to measure: the photo keeps its own look, with a note.

    Returns:
        What the network is conditioned on: the requested look completed with the photo's own numbers, its
        face lightness at most ``NETWORK_FACE_BAND`` from where the global part takes the face; None without a
        face.

    Raises:
        InvalidOptionError: the look names no preset.
    """
    requested = requested_look(options.look)
    measured = [face for face in faces if face.landmarks]
    if not measured:
        if options.whole_image and requested != Look():
            warnings.append("The whole-image mode has no face to measure a look on: the photo keeps its own.")
        return None
    largest = max(measured, key=lambda face: face.box[2] - face.box[0])
    own = describe(pixels, largest)
    transform = plan_transform(own, requested, FaceAxes.of(largest))
    if not transform.is_identity and options.strength > 0:
        apply_through_upsampler(pixels, output, transform, subject, options.strength)
    wanted = requested.resolve(own)
    moved = transform.gain * own.face_lightness + transform.offset
    reach = float(np.clip(wanted.face_lightness - moved, -NETWORK_FACE_BAND, NETWORK_FACE_BAND))
    return dataclasses.replace(wanted, face_lightness=float(np.clip(moved + reach, 0.0, 100.0)))


def apply_through_upsampler(pixels: np.ndarray, output: np.ndarray, transform: LookTransform, matte: np.ndarray,
                            strength: float) -> None:
    """``output = x + strength·matte·(T(x) − x)`` over the matte's extent, ``T(x) − x`` computed at low resolution."""
    rows = np.flatnonzero(matte.max(axis=1) > 0)
    columns = np.flatnonzero(matte.max(axis=0) > 0)
    if rows.size == 0:
        return
    x0, x1, y0, y1 = int(columns[0]), int(columns[-1]) + 1, int(rows[0]), int(rows[-1]) + 1
    factor = LOW_SIDE / max(x1 - x0, y1 - y0)
    if factor >= 1.0:
        apply_transform(pixels, output, transform, matte, strength)
        return
    size = (max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor)))
    region = pixels[y0:y1, x0:x1, :3]
    guide = to_float(np.ascontiguousarray(cv2.resize(region, size, interpolation=cv2.INTER_AREA)))
    delta = mapped_rgb(guide, transform, origin=(x0, y0), step=(x1 - x0) / size[0]) - guide
    scale = np.float32(strength * PIXEL_SCALE[pixels.dtype])

    def add(batch: int, rows: slice, columns: slice, strip: torch.Tensor) -> None:
        window = (slice(y0 + rows.start, y0 + rows.stop), slice(x0 + columns.start, x0 + columns.stop))
        weight = matte[window] * scale
        moved = cv2.merge([plane * weight for plane in strip.numpy()])
        source = pixels[(*window, slice(0, 3))]
        target = output[(*window, slice(0, 3))]
        if pixels.dtype == np.float32:
            np.clip(source + moved, 0.0, 1.0, out=target)
        else:
            depth = cv2.CV_8U if pixels.dtype == np.uint8 else cv2.CV_16U
            target[...] = cv2.add(source, moved, dtype=depth)

    high = region if pixels.dtype != np.float32 else np.clip(np.nan_to_num(region), 0.0, 1.0)
    upsample.guided_upsample(torch.from_numpy(delta).permute(2, 0, 1)[None],
                             torch.from_numpy(guide).permute(2, 0, 1)[None],
                             upsample.guide_view(high), sink=add,
                             span=matte_span(matte, (x0, y0, x1, y1)))  # the matte's zeros move nothing
