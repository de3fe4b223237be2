"""Where the pipeline's correction goes: the subject matte over the frame and each crop's blend weight.

The weight is the person's matte (:mod:`deepflash_core.matte.refine`), so the backdrop gets exactly nothing,
times a smooth fade toward every crop edge that lies inside the photo, so a face crop leaves no outline
on the neck or in the hair.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deepflash_client.options import Options
from deepflash_core.detection.faces import Face
from deepflash_core.matte import refine as matte

# Where a face crop ends inside the photo (on the neck, in the hair), its weight falls smoothly from 1 to
# 0 over this fraction of the crop's side; the face itself (the middle half, the chin 13 % from the
# bottom edge) keeps the full weight.
FEATHER = 0.1
# Columns where the matte is zero are skipped in runs; gaps narrower than this many pixels are computed anyway.
SPAN_GAP = 64

Box = tuple[int, int, int, int]


def find_subject(pixels: np.ndarray, coarse: matte.CoarseMatte, faces: list[Face], options: Options,
                 warnings: list[str]) -> np.ndarray:
    """The subject matte over the whole frame, refined from ``coarse`` (the segmentation model's, over
    ``pixels``), with a landmark head mask for every face the model missed.

    Always the whole frame, whatever the options: the matte is a function of the photo alone, so the one a
    front end shows is exactly the one that kept the backdrop untouched.
    """
    height, width = pixels.shape[:2]
    subject = matte.refine(coarse, pixels) if coarse.found else np.zeros((height, width), np.float32)
    if options.whole_image:
        if not coarse.found:
            subject[...] = 1.0
            warnings.append("No person found by the subject matte: the whole frame was corrected.")
        return subject
    missed = 0
    for face in faces:
        points = np.array([p for group in face.landmarks.values() for p in group], np.float32)
        if coarse.found and coarse.coverage(points) >= 0.5:
            continue
        missed += 1
        box = clip_box(face.crop, height, width)
        np.maximum(over(subject, box), matte.head_mask(points, box), out=over(subject, box))
    if missed:
        what = "any face" if missed == len(faces) else f"{missed} of {len(faces)} faces"
        warnings.append(f"No person found by the subject matte around {what}: corrected the head area around the face landmarks.")
    return subject


def blend_weight(crop: Box, inside: Box, whole_image: bool, subject: np.ndarray, gain: float = 1.0,
                 rows: tuple[int, int] | None = None, columns: tuple[int, int] | None = None) -> np.ndarray:
    """Blend weight (times ``gain``) over ``inside``, the in-photo part of a square ``crop``, ``(h, w)`` float32.

    With ``rows`` (``first, end`` counted from the top of ``inside``) only those rows, and with ``columns``
    (from its left) only those columns, for a caller that works strip by strip. A whole-image crop holds the
    entire frame and needs no fade: its weight is the matte alone.
    """
    cx0, cy0, cx1, cy1 = inside
    first, end = rows if rows is not None else (0, cy1 - cy0)
    left, right = columns if columns is not None else (0, cx1 - cx0)
    matte = over(subject, (cx0 + left, cy0 + first, cx0 + right, cy0 + end))
    if whole_image:
        return matte * np.float32(gain)
    height, width = subject.shape
    x0, y0, x1, y1 = crop
    band = FEATHER * (x1 - x0)
    columns = edge_fade(np.arange(cx0 + left, cx0 + right) + 0.5, x0, x1, band, x0 > 0, x1 < width)
    fade = edge_fade(np.arange(cy0 + first, cy0 + end) + 0.5, y0, y1, band, y0 > 0, y1 < height) * np.float32(gain)
    weight = np.multiply(matte, fade[:, None])
    weight *= columns[None, :]
    return weight


def matte_span(subject: np.ndarray, box: Box) -> Callable[[int, int], list[tuple[int, int]]]:
    """For the rows ``[first, end)`` of ``box`` (from its top), the runs of columns of ``box`` (from its left)
    where ``subject`` is not zero: outside them a correction weighted by the matte is nothing.

    Runs closer than ``SPAN_GAP`` pixels are joined (each run costs its own steps).
    """
    x0, y0, x1, y1 = box

    def span(first: int, end: int) -> list[tuple[int, int]]:
        present = subject[y0 + first : y0 + end, x0:x1].max(axis=0) > 0
        edges = np.flatnonzero(np.diff(present.astype(np.int8), prepend=np.int8(0), append=np.int8(0)))
        starts, stops = edges[::2], edges[1::2]
        if not len(starts):
            return []
        opens = np.ones(len(starts), bool)
        opens[1:] = starts[1:] - stops[:-1] >= SPAN_GAP
        last = np.append(np.flatnonzero(opens)[1:] - 1, len(stops) - 1)
        return list(zip(starts[opens].tolist(), stops[last].tolist()))

    return span


def edge_fade(centres: np.ndarray, start: int, end: int, band: float, fade_start: bool, fade_end: bool) -> np.ndarray:
    """1 in the middle of ``[start, end)``, smoothstep to 0 over ``band`` at each end that is faded."""
    fade = np.ones(len(centres), np.float32)
    for fading, distance in ((fade_start, centres - start), (fade_end, end - centres)):
        if fading:
            t = np.clip(distance / band, 0.0, 1.0)
            fade *= (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    return fade


def over(frame: np.ndarray, box: Box) -> np.ndarray:
    """The part of a full-frame ``(H, W)`` array over ``box`` (a view)."""
    x0, y0, x1, y1 = box
    return frame[y0:y1, x0:x1]


def clip_box(box: Box, height: int, width: int) -> Box:
    """``box`` clipped to a ``height x width`` frame."""
    x0, y0, x1, y1 = box
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def union(boxes: list[Box]) -> Box:
    """The smallest box holding all ``boxes``."""
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def overlapping_groups(boxes: list[Box]) -> list[list[int]]:
    """Indices of boxes grouped so that boxes which overlap (directly or through others) share a group."""
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())
