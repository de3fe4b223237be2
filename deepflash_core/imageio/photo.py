"""A photo's pixels and the metadata that goes back into the file written from it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass
class Photo:
    """An upright photo and the metadata to write back with it.

    Attributes:
        pixels: ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, uint8 or uint16, C-contiguous.
        icc_profile: the embedded colour profile, written back unchanged.
        exif: EXIF block with orientation already reset to 1 (the pixels are upright).
        format: the Pillow format name of the source ("JPEG", "PNG", ...).
        source_mode: the source's Pillow mode, plus ";16" for 16-bit colour.
        jpeg_subsampling: the source JPEG's chroma subsampling (0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0).
        jpeg_quantization: the source JPEG's quantization tables, so a JPEG output keeps its quality.
        dpi: resolution, written back when the format holds one.
        notes: what was converted on load (e.g. "CMYK converted to RGB").
    """

    pixels: np.ndarray
    icc_profile: bytes | None = None
    exif: bytes | None = None
    format: str | None = None
    source_mode: str = "RGB"
    jpeg_subsampling: int | None = None
    jpeg_quantization: dict[int, list[int]] | None = None
    dpi: tuple[float, float] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def alpha(self) -> np.ndarray | None:
        """The alpha channel (a view), or None."""
        return self.pixels[..., 3] if self.pixels.shape[2] == 4 else None

    def with_pixels(self, pixels: np.ndarray) -> Photo:
        """The same photo and metadata with new pixels of the same shape."""
        if pixels.shape != self.pixels.shape:
            raise ValueError(f"pixel shape {pixels.shape} differs from the photo's {self.pixels.shape}")
        return replace(self, pixels=pixels)
