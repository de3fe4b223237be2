"""Reading and writing photos without losing what the user's file holds.

Pixels come out upright (EXIF orientation applied), RGB or RGBA, uint8 or uint16 as
stored; alpha is carried untouched; the ICC profile, EXIF (orientation reset to 1)
and resolution go back into the output. Pillow decodes and encodes everything it
can; colour images with 16 bits per channel, which Pillow would cut to 8 bits, go
through OpenCV (PNG, TIFF reading, PNG writing) and tifffile (TIFF writing).
Animations and multi-page files are refused rather than cut to one frame. A JPEG
written from a JPEG keeps the source's quantization tables and subsampling.
Every file that cannot be read or written raises a typed error with one line.
"""

from deepflash_core.imageio import heif
from deepflash_core.imageio.photo import Photo
from deepflash_core.imageio.read import EXIF_ORIENTATION, MAX_PIXELS, MIN_SIDE, load_photo
from deepflash_core.imageio.encode import JPEG_QUALITY
from deepflash_core.imageio.write import check_writable, copy_unchanged, luminance, output_format, save_photo

__all__ = [
    "EXIF_ORIENTATION",
    "JPEG_QUALITY",
    "MAX_PIXELS",
    "MIN_SIDE",
    "Photo",
    "check_writable",
    "copy_unchanged",
    "heif",
    "load_photo",
    "luminance",
    "output_format",
    "save_photo",
]
