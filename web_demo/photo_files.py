"""Photos opened through the page's file buttons: any format the core reads, HEIC included, shown in an image
box as an upright preview the browser can display, and corrected from the original file.

A browser's image box takes only what the browser itself decodes (Chromium refuses a phone's HEIC), and
showing a preview there must not turn the correction into a correction of that 8-bit, screen-sized copy:
the request reads the original, so the download keeps its format, size, bit depth, ICC profile and EXIF.
Gradio-free, like :mod:`deepflash_web.service`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepflash_core import imageio
from deepflash_core.imageio.heif import readable_extensions
from .previews import make_preview, write_preview
from .service import CorrectionService, upload_path


@dataclass(frozen=True)
class OpenedFile:
    """A file opened through a file button: the original, its name on the user's machine, and the preview shown.

    Attributes:
        original: the uploaded file, untouched.
        name: its name on the user's machine (names the download).
        preview: the upright 8-bit JPEG (PNG with alpha) put in the image box; its name is unique, so the
            box still showing it is told from the box showing anything else.
    """

    original: Path
    name: str
    preview: Path


def file_types() -> list[str]:
    """The extensions a file button offers: every format the core reads (for the browser's file chooser)."""
    return sorted(readable_extensions())


def open_file(service: CorrectionService, upload: Any) -> OpenedFile:
    """Read an uploaded file as the correction will, and write the preview the image box shows.

    Raises:
        ImageReadError, ImageTooLargeError: no file, not an image the core reads, damaged, or too large
            (the pixel count is checked from the header, before decoding).
    """
    original, name = upload_path(upload)
    name = Path(name or original.name).name
    service.check_pixel_count(original, name)
    photo = imageio.load_photo(original)
    folder = service.output_root / f"opened-{uuid.uuid4().hex}"
    folder.mkdir()
    preview = write_preview(make_preview(photo.pixels, service.preview_side), folder / f"preview-{folder.name}")
    return OpenedFile(original, name, preview)


def original_of(shown: Any, opened: OpenedFile | None) -> Any:
    """What a request reads for an image box: the original file behind the preview while the box still shows it,
    else the box's own value (an upload into the box, a webcam snapshot, an example, nothing).

    Args:
        shown: the box's value as Gradio sends it (a file payload with ``path`` and ``orig_name``), or None.
        opened: the last file opened through the box's file button in this browser session, if any.
    """
    if opened is not None and isinstance(shown, dict) and Path(shown.get("path") or "").name == opened.preview.name:
        return {"path": str(opened.original), "orig_name": opened.name}
    return shown
