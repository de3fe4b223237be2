"""One request of the page: read the upload, correct it, write the full-resolution file, make previews.

Gradio-free, so it can be tested and benchmarked directly; :mod:`deepflash_web.app` turns its errors into
messages on the page.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from deepflash_client.errors import ImageReadError, ImageTooLargeError, ImageWriteError, NoFaceError, ServerError
from deepflash_client.options import Options
from deepflash_client.summary import ResultSummary
from deepflash_core import imageio
from deepflash_core.corrector import Corrector
from deepflash_core.result import Result, timed
from .previews import PREVIEW_SIDE, draw_faces, make_preview, preview_scale, write_preview

DEFAULT_MAX_MEGAPIXELS = 50.0
"""Largest upload the page corrects: every current phone camera fits (200 MP sensors bin to 50 MP)."""
OUTPUT_LIFETIME_S = 3600.0
"""Full-resolution results are deleted this long after they were written."""

Box = tuple[int, int, int, int]
ProgressCallback = Callable[[float, str], None]
"""``progress(fraction in [0, 1], what is happening)``, as the page shows it."""

# The correctors' progress stages, as the page words them.
_STAGES: dict[str, str] = {
    "send": "Sending the photo to the server",
    "detect": "Finding faces",
    "filter": "Smoothing the face crops",
    "network": "Predicting the flash correction",
    "prepare": "Preparing the face crops",
    "upsample": "Bringing the correction to full resolution",
    "blend": "Blending the corrected faces in",
    "done": "Corrected",
}

# Extension for a result whose upload had no usable one (a webcam snapshot, a file named "photo").
_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp",
               "HEIF": ".heic"}


@dataclass(frozen=True)
class PageResult:
    """What the page shows after a correction.

    Attributes:
        before, after: 8-bit preview files (JPEG, or PNG to keep alpha), longest side at most
            ``preview_side``.
        faces: JPEG preview of the upload with each corrected face's box numbered.
        download: the full-resolution result, same format, size, bit depth and alpha as the upload.
        summary: a few lines of Markdown for the page.
        steps: seconds per step of the page ("read", "correct", "write", "previews").
        correction: what the corrector reported (its timings are the pipeline's own).
        matte: 8-bit preview of the subject matte (white: the person), when the options asked for it.
    """

    before: Path
    after: Path
    faces: Path
    download: Path
    summary: str
    steps: dict[str, float]
    correction: ResultSummary
    matte: Path | None = None

    @property
    def stages(self) -> dict[str, float]:
        """The page's steps, then the pipeline's timings prefixed with "pipeline."."""
        return self.steps | {f"pipeline.{stage}": value for stage, value in self.correction.timings.items()}


class CorrectionService:
    """Runs the page's corrections with one corrector, within size limits, into a private folder."""

    def __init__(
        self,
        corrector: Corrector,
        max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
        preview_side: int = PREVIEW_SIDE,
        output_root: Path | None = None,
    ) -> None:
        self.corrector = corrector
        self.max_pixels = int(max_megapixels * 1_000_000)
        self.preview_side = preview_side
        self.output_root = output_root or Path(tempfile.mkdtemp(prefix="deepflash-web-"))
        self.output_root.mkdir(parents=True, exist_ok=True)
        # The upload component opens uploads with Pillow before the page sees them: HEIC must be known by then.
        imageio.heif.register()

    def run(
        self,
        upload: Path,
        options: Options,
        name: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> PageResult:
        """Correct one uploaded file.

        Args:
            upload: the file as uploaded (EXIF orientation not yet applied).
            options: what the correction should do.
            name: the file's name on the user's machine (names the download); defaults to ``upload``'s.
            progress: told the fraction done and the current step.

        Raises:
            DeepFlashError: unreadable or too large upload, no face found, server errors, write failures.
        """
        report = progress or (lambda fraction, step: None)
        steps: dict[str, float] = {}  # seconds per step, wall clock
        name = Path(name or upload.name).name
        report(0.0, "Reading the photo")
        with timed(steps, "read"):
            self.check_pixel_count(upload, name)
            photo = imageio.load_photo(upload)
        report(0.1, "Finding faces")
        with timed(steps, "correct"):
            correction = self.correct(photo.pixels, options, name,
                                       lambda stage, fraction: report(0.1 + 0.75 * fraction, _STAGES.get(stage, stage)))
        # whole-image mode reports the frame as its one "face"
        boxes = [] if options.whole_image else [_box(face.box) for face in correction.faces]
        report(0.85, "Writing the full-resolution file")
        with timed(steps, "write"):
            download = self._output_path(name, photo.format)
            save_notes = imageio.save_photo(photo.with_pixels(correction.pixels), download, like=photo)
        report(0.95, "Making the previews")
        with timed(steps, "previews"):
            before_pixels = make_preview(photo.pixels, self.preview_side)
            scale = preview_scale(photo.height, photo.width, self.preview_side)
            before = write_preview(before_pixels, download.parent / "before")
            after = write_preview(make_preview(correction.pixels, self.preview_side), download.parent / "after")
            faces = write_preview(draw_faces(before_pixels, boxes, scale), download.parent / "faces")
            matte = None
            if correction.matte is not None:
                grey = make_preview(correction.matte[..., None], self.preview_side)
                matte = write_preview(np.repeat(grey.reshape(*grey.shape[:2], 1), 3, axis=2), download.parent / "matte")
        summary = _summary(photo, boxes, options.whole_image, sum(steps.values()), self.corrector.description,
                           photo.notes + correction.warnings + save_notes)
        return PageResult(before, after, faces, download, summary, steps, correction.summary(), matte)

    def close(self) -> None:
        """Delete every result this service wrote (the page is going away, and its links with it)."""
        shutil.rmtree(self.output_root, ignore_errors=True)

    def correct(self, pixels: np.ndarray, options: Options, name: str,
                progress: Callable[[str, float], None] | None = None) -> Result:
        """The corrector's result; "no face" is reworded for the page (the core's words name a CLI flag)."""
        try:
            return self.corrector.correct(pixels, options, progress=progress)
        except (NoFaceError, ServerError) as error:
            if isinstance(error, ServerError) and error.code != "no_face":
                raise
            raise NoFaceError(f"{name}: no face found; choose “Whole image” to correct the whole frame.") from None

    def check_pixel_count(self, upload: Path, name: str) -> None:
        """Refuse huge images from their header, before anything is decoded."""
        try:
            with Image.open(upload) as image:
                width, height = image.size
        except Image.DecompressionBombError:
            raise ImageTooLargeError(f"{name}: too many pixels to be a photo.") from None
        except (OSError, ValueError, SyntaxError):
            return  # not an image Pillow knows: load_photo says so in its own words
        if width * height > self.max_pixels:
            raise ImageTooLargeError(
                f"{name}: {width}x{height} is {width * height / 1e6:.1f} megapixels; "
                f"this page accepts at most {self.max_pixels / 1e6:.0f}."
            )

    def _output_path(self, name: str, source_format: str | None) -> Path:
        """A fresh file for the result, named after the upload, in the upload's format."""
        self._delete_old_outputs()
        stem, suffix = Path(name).stem or "photo", Path(name).suffix
        try:
            imageio.output_format(f"x{suffix}")
        except ImageWriteError:
            suffix = _EXTENSIONS.get(source_format or "", ".png")
        folder = self.output_root / uuid.uuid4().hex
        folder.mkdir()
        return folder / f"{stem}-deepflash{suffix}"

    def _delete_old_outputs(self) -> None:
        deadline = time.time() - OUTPUT_LIFETIME_S
        for folder in self.output_root.iterdir():
            try:
                if folder.stat().st_mtime < deadline:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue  # removed by a concurrent request


def upload_path(value: dict | str | Path | None) -> tuple[Path, str | None]:
    """The uploaded file's path and original name from a Gradio file payload (or a plain path).

    Raises:
        ImageReadError: nothing was uploaded.
    """
    if value is None or value == "":
        raise ImageReadError("Upload a photo first (or take one with the webcam).")
    if isinstance(value, dict):
        path = value.get("path")
        if not path:
            raise ImageReadError("The upload did not arrive; try again.")
        return Path(path), value.get("orig_name")
    return Path(value), None


def _box(values: Any) -> Box:
    left, top, right, bottom = (int(round(v)) for v in values)
    return left, top, right, bottom


def _summary(photo: imageio.Photo, boxes: list[Box], whole_image: bool, seconds: float, where: str,
             notes: list[str]) -> str:
    """Markdown: what was corrected, how long it took, what the download is, and any notes."""
    channels = "RGBA" if photo.pixels.shape[2] == 4 else "RGB"
    plural = "" if len(boxes) == 1 else "s"
    what = "the whole image" if whole_image else f"**{len(boxes)} face{plural}**"
    lines = [
        f"Corrected {what} in {seconds:.2f} s, {where}.",
        f"Download: {photo.width}×{photo.height} {photo.format or 'image'}, {photo.bit_depth}-bit {channels}.",
    ]
    lines += [f"Note: {note}." for note in dict.fromkeys(notes)]
    return "\n\n".join(lines)
