"""Where photos are written: unwritable folders, the check before the work, copies of untouched photos."""

from __future__ import annotations

import errno
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from deepflash_client.errors import ImageWriteError
from deepflash_core import imageio
from deepflash_core.imageio import Photo, save_photo
from imageio_samples import PORTRAIT, portrait_rgb


def _refuse_files(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    def mkstemp(*_args, **_kwargs):
        raise OSError(code, "refused")

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc takes no new files on Linux only")
@pytest.mark.parametrize("write", [lambda path: save_photo(Photo(pixels=portrait_rgb()), path),
                                   lambda path: imageio.check_writable(path)])
def test_a_folder_that_takes_no_files_is_one_clear_line(write, tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError) as refused:
        write(Path("/proc/out.png"))
    message = str(refused.value)
    assert "\n" not in message and "cannot write into /proc" in message


@pytest.mark.parametrize(("code", "reason"), [(errno.EROFS, "read-only file system"),
                                              (errno.EACCES, "permission denied")])
def test_read_only_and_forbidden_folders_are_named(monkeypatch, tmp_path: Path, code: int, reason: str) -> None:
    _refuse_files(monkeypatch, code)
    with pytest.raises(ImageWriteError, match=f"cannot write into {tmp_path} \\({reason}\\)"):
        imageio.check_writable(tmp_path / "out.jpg")
    with pytest.raises(ImageWriteError, match=reason):
        save_photo(Photo(pixels=portrait_rgb()), tmp_path / "out.jpg")


def test_check_writable_leaves_nothing_and_names_a_bad_extension(tmp_path: Path) -> None:
    imageio.check_writable(tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ImageWriteError, match="extension"):
        imageio.check_writable(tmp_path / "out.xyz")
    with pytest.raises(ImageWriteError, match="does not exist"):
        imageio.check_writable(tmp_path / "absent" / "out.png")


# --- JPEG quality and untouched copies ----------------------------------------------------------------------


def test_jpeg_output_keeps_the_sources_quantization_and_subsampling(tmp_path: Path) -> None:
    source = tmp_path / "low.jpg"
    Image.open(PORTRAIT).convert("RGB").save(source, quality=60, subsampling=1)
    photo = imageio.load_photo(source)
    save_photo(photo, tmp_path / "out.jpg")
    with Image.open(source) as original, Image.open(tmp_path / "out.jpg") as written:
        assert written.quantization == original.quantization
        assert JpegImagePlugin.get_sampling(written) == 1


@pytest.mark.parametrize("subsampling", [0, 1, 2])
def test_a_cmyk_jpeg_is_written_as_rgb_with_the_sources_quality_and_subsampling(tmp_path: Path, subsampling) -> None:
    source = tmp_path / "print.jpg"
    Image.open(PORTRAIT).convert("CMYK").save(source, quality=60, subsampling=subsampling)
    photo = imageio.load_photo(source)
    save_photo(photo, tmp_path / "out.jpg")
    with Image.open(source) as original, Image.open(tmp_path / "out.jpg") as written:
        assert written.mode == "RGB"
        tables = list(original.quantization.values())
        assert list(written.quantization.values()) == (tables * 2)[:2]  # a single table serves luma and chroma
        assert JpegImagePlugin.get_sampling(written) == subsampling


def test_jpeg_from_a_lossless_source_is_written_at_the_default_quality(tmp_path: Path) -> None:
    save_photo(Photo(pixels=portrait_rgb()), tmp_path / "a.jpg")
    save_photo(Photo(pixels=portrait_rgb()), tmp_path / "b.jpg", quality=imageio.JPEG_QUALITY)
    assert (tmp_path / "a.jpg").read_bytes() == (tmp_path / "b.jpg").read_bytes()


def test_lossless_output_is_exact(tmp_path: Path) -> None:
    for suffix in (".png", ".tif"):
        save_photo(Photo(pixels=portrait_rgb()), tmp_path / f"out{suffix}")
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"out{suffix}").convert("RGB")), portrait_rgb())


def test_copy_unchanged_copies_the_same_format_byte_for_byte(tmp_path: Path) -> None:
    assert imageio.copy_unchanged(PORTRAIT, tmp_path / "same.jpeg")
    assert (tmp_path / "same.jpeg").read_bytes() == PORTRAIT.read_bytes()
    assert not imageio.copy_unchanged(PORTRAIT, tmp_path / "other.png")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["same.jpeg"]
    with pytest.raises(ImageWriteError, match="does not exist"):
        imageio.copy_unchanged(PORTRAIT, tmp_path / "absent" / "out.jpg")
