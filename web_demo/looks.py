"""The page's looks: the Look menu, a reference portrait described once (kept by its file's hash), and the
look sweep, the same photo small under every look.

Gradio-free, like :mod:`deepflash_web.service`; a reference that cannot give a look stops the request with one line,
and nothing falls back to a preset.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from deepflash_client.errors import InvalidOptionError, LookReferenceError
from deepflash_client.options import DEFAULT_LOOK, LOOK_AS_SHOT, Options
from deepflash_core import imageio
from deepflash_core.look.presets import load_preset, preset_names
from .previews import make_preview, write_preview
from .service import CorrectionService, upload_path

REFERENCE = "reference"
"""The menu's value for "the look of the reference portrait uploaded beside it"."""
SWEEP_SIDE = 384
"""Longest side, in pixels, of the photo in the look sweep (small: one correction per look)."""
KEPT = 32
"""Reference looks kept by the page (least recently used first out)."""


def look_choices() -> list[tuple[str, str]]:
    """The Look menu: (label, value): the default preset first, the others, the photo's own, the reference."""
    names = sorted(preset_names(), key=lambda name: (name != DEFAULT_LOOK, name))
    presets = [(f"{name.replace('-', ' ').capitalize()}{' (default)' if name == DEFAULT_LOOK else ''} — "
                f"{load_preset(name).description}", name) for name in names]
    return [*presets, ("The photo's own colour (only the flash's marks corrected)", LOOK_AS_SHOT),
            ("From the reference portrait", REFERENCE)]


class ReferenceLooks:
    """Reference portraits' looks by the SHA-256 of the uploaded file, shared by the page's requests."""

    def __init__(self, service: CorrectionService, kept: int = KEPT) -> None:
        self.service = service
        self.kept = kept
        self._looks: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.described = 0

    def look(self, reference: Any) -> tuple[float, ...]:
        """The look of an uploaded reference portrait (its largest face).

        Raises:
            ImageReadError, ImageTooLargeError: not an image, or too large.
            LookReferenceError: no face, a tiny face, greyscale, not a photo (the file's name leads the line).
        """
        if reference is None or reference == "":
            raise LookReferenceError("Upload a reference portrait for the look “From the reference portrait”, or "
                                     "choose a preset look.")
        path, name = upload_path(reference)
        name = Path(name or path.name).name
        key = hashlib.sha256(path.read_bytes()).hexdigest()
        with self._lock:
            if key in self._looks:
                self._looks.move_to_end(key)
                return self._looks[key]
        from deepflash_core.look.reference import describe_reference

        self.service.check_pixel_count(path, name)
        pixels = imageio.load_photo(path).pixels
        try:
            look = tuple(float(value) for value in describe_reference(pixels).as_vector())  # type: ignore[arg-type]
        except LookReferenceError as error:
            raise LookReferenceError(f"{name}: {error}") from None
        with self._lock:
            self.described += 1
            self._looks[key] = look
            while len(self._looks) > self.kept:
                self._looks.popitem(last=False)
        return look

    def requested(self, look: Any, reference: Any) -> str | tuple[float, ...]:
        """What the form's Look and reference ask for, as :class:`Options` takes it.

        Raises:
            InvalidOptionError: a look the menu does not offer.
            LookReferenceError: the reference look without a usable reference.
        """
        offered = [value for _, value in look_choices()]
        if look not in offered:
            raise InvalidOptionError(f"look must be one of {', '.join(offered)}, got {str(look)[:40]!r}.")
        return self.look(reference) if look == REFERENCE else look


def look_sweep(service: CorrectionService, upload: Path, name: str, options: Options,
               reference: tuple[float, ...] | None = None) -> list[tuple[str, str]]:
    """The photo, small, corrected toward every look on the menu (and the reference's, when there is one).

    Returns:
        (preview file, caption) per look, in the menu's order.

    Raises:
        DeepFlashError: the upload cannot be read, or no face is found at the sweep's size.
    """
    service.check_pixel_count(upload, name)
    small = make_preview(imageio.load_photo(upload).pixels, SWEEP_SIDE)[..., :3]
    folder = service.output_root / f"sweep-{uuid.uuid4().hex}"
    folder.mkdir()
    looks = [(value, label.split(" — ")[0]) for label, value in look_choices() if value != REFERENCE]
    if reference is not None:
        looks.append((reference, "The reference portrait's"))
    sweep = []
    for index, (look, caption) in enumerate(looks):
        request = dataclasses.replace(options, look=look, with_matte=False)
        corrected = service.correct(np.ascontiguousarray(small), request, name)
        sweep.append((str(write_preview(corrected.pixels, folder / f"{index}")), caption))
    return sweep
