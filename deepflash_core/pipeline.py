"""The DeepFlash pipeline: flash portrait in, studio-lit portrait out, same size, dtype and alpha.

Per face crop: resize to the network's input size, bilateral-filter, infer ``y``, turn it into the
low-frequency correction ``D = 2y − 1``, bring ``D`` back to the crop's native resolution with
edge-aware upsampling guided by the photo itself, apply ``x − s·D`` and blend into the crop region
with a feathered mask. Only crop regions are converted to float; every pixel outside all crops is
copied untouched, so it stays bit-identical.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from deepflash_core import bilateral, encoding, upsample
from deepflash_core.device import autocast_dtype, select_device
from deepflash_core.errors import InvalidOptionError, NoFaceError
from deepflash_core.faces import Face, detect_faces, whole_image_face
from deepflash_core.network import FlashUNet
from deepflash_core.weights import DEFAULT_WEIGHTS, ModelCard, load_model

ProgressCallback = Callable[[str, float], None]
"""Called with a stage name and the fraction of the work done, in [0, 1]."""

SIGMA_R = 0.4
# The blend mask rises from 0 to 1 over this fraction of the crop side, on crop edges inside the photo.
FEATHER = 0.12
MIN_SIDE = 8
_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}


@dataclass(frozen=True)
class Options:
    """What one call of :meth:`Pipeline.process` should do.

    Attributes:
        strength: ``s`` in ``x − s·D``: 0 leaves the photo as it is, 1 applies the full correction.
        whole_image: treat the whole frame as one crop instead of detecting faces.
    """

    strength: float = 1.0
    whole_image: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.strength, (int, float)) or not 0.0 <= float(self.strength) <= 1.0:
            raise InvalidOptionError(f"Strength must be between 0 and 1, got {self.strength!r}.")


@dataclass
class Result:
    """The corrected pixels (same shape and dtype as the input) and what was done."""

    pixels: np.ndarray
    faces: list[Face]
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class Pipeline:
    """A loaded model and the steps around it; reuse one instance for many photos."""

    def __init__(
        self,
        model: FlashUNet,
        card: ModelCard,
        device: torch.device | str = "cpu",
        mixed_precision: bool = False,
        weights_path: Path | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(device=self.device, memory_format=torch.channels_last)
        self.card = card
        self.input_size = int(card.config.input_size)
        self.mixed_precision = mixed_precision
        self.weights_path = weights_path

    @classmethod
    def load(cls, weights: Path | str | None = None, device: str = "auto", mixed_precision: bool = False) -> Pipeline:
        """Load verified weights (the installed default when ``weights`` is None) onto a device.

        Raises:
            WeightsError: weights missing, corrupt, or not matching their card.
            InvalidOptionError: the device is unknown or unavailable.
        """
        torch_device = select_device(device)
        model, card = load_model(weights, torch_device)
        path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        return cls(model, card, torch_device, mixed_precision, weights_path=path)

    def describe(self) -> dict[str, object]:
        """Device, weights and model card, for ``deepflash info`` and the server."""
        return {
            "device": str(self.device),
            "mixed_precision": self.mixed_precision,
            "weights": str(self.weights_path) if self.weights_path else None,
            "model_card": self.card.to_dict(),
        }

    def process(self, pixels: np.ndarray, options: Options | None = None, progress: ProgressCallback | None = None) -> Result:
        """Correct the flash look on every face of ``pixels``.

        Args:
            pixels: ``(H, W, 3)`` or ``(H, W, 4)`` uint8, uint16, or float32 in [0, 1]; a fourth
                channel is alpha and is returned untouched.
            options: strength and whole-image mode.
            progress: optional callback ``(stage, fraction)``.

        Returns:
            A :class:`Result` whose pixels have the input's shape and dtype.

        Raises:
            NoFaceError: no face was found and ``options.whole_image`` is False.
            InvalidOptionError: the pixel array has an unsupported shape or dtype.
        """
        options = options or Options()
        _check_pixels(pixels)
        report = progress or (lambda stage, fraction: None)
        timings: dict[str, float] = {}
        warnings: list[str] = []
        height, width = pixels.shape[:2]

        report("detect", 0.0)
        with _timed(timings, "detect"):
            if options.whole_image:
                faces = [whole_image_face(height, width)]
            else:
                faces = detect_faces(pixels)
        if not faces:
            raise NoFaceError("No face found in this photo; use the whole-image mode (--whole-image) to correct the whole frame.")
        output = pixels.copy()
        if options.strength == 0:
            report("done", 1.0)
            return Result(output, faces, timings, ["strength 0: the photo is returned unchanged"])

        scale = _SCALE[pixels.dtype]
        for group in _overlapping_groups([_clip(face.crop, height, width) for face in faces]):
            group_faces = [faces[index] for index in group]
            self._correct_group(pixels, output, group_faces, float(options.strength), scale, timings, report)
        report("done", 1.0)
        return Result(output, faces, timings, warnings)

    def _correct_group(
        self,
        pixels: np.ndarray,
        output: np.ndarray,
        faces: list[Face],
        strength: float,
        scale: float,
        timings: dict[str, float],
        report: ProgressCallback,
    ) -> None:
        """Correct faces whose crops overlap, writing the blend into ``output``'s shared region."""
        height, width = pixels.shape[:2]
        m = self.input_size
        with _timed(timings, "prepare"):
            crops = [_crop_square(pixels, face.crop, scale) for face in faces]
            guides_low = np.stack([_resize(crop, m) for crop in crops])
        guides_low_t = torch.from_numpy(guides_low).permute(0, 3, 1, 2).to(self.device)
        report("filter", 0.2)
        with _timed(timings, "filter"):
            filtered = bilateral.bilateral_filter(guides_low_t, bilateral.sigma_s_for(m, m), SIGMA_R)
        report("network", 0.3)
        with _timed(timings, "network"):
            corrections_low = encoding.correction(self._infer(filtered))

        region = _union([_clip(face.crop, height, width) for face in faces])
        rx0, ry0, rx1, ry1 = region
        numerator = np.zeros((ry1 - ry0, rx1 - rx0, 3), np.float32) if len(faces) > 1 else None
        weight_sum = np.zeros((ry1 - ry0, rx1 - rx0), np.float32) if len(faces) > 1 else None
        alpha = np.zeros((ry1 - ry0, rx1 - rx0), np.float32) if len(faces) > 1 else None
        single_correction: np.ndarray | None = None
        single_weight: np.ndarray | None = None
        for index, (face, crop) in enumerate(zip(faces, crops)):
            report("upsample", 0.5 + 0.3 * index / len(faces))
            with _timed(timings, "upsample"):
                guide_high = torch.from_numpy(crop).permute(2, 0, 1).unsqueeze(0).to(self.device)
                correction = upsample.guided_upsample(
                    corrections_low[index : index + 1], guides_low_t[index : index + 1], guide_high
                )
                inside = _inside_part(correction[0].permute(1, 2, 0), face.crop, height, width)
                inside = inside.float().cpu().numpy()
            with _timed(timings, "blend"):
                weight = _feather_mask(face.crop, height, width)
                if numerator is None:
                    single_correction, single_weight = inside, weight
                    continue
                cx0, cy0, cx1, cy1 = _clip(face.crop, height, width)
                window = (slice(cy0 - ry0, cy1 - ry0), slice(cx0 - rx0, cx1 - rx0))
                numerator[window] += weight[..., None] * inside
                weight_sum[window] += weight
                np.maximum(alpha[window], weight, out=alpha[window])

        report("blend", 0.9)
        with _timed(timings, "blend"):
            if numerator is None:
                correction, blend = single_correction, single_weight
            else:
                correction = numerator / np.maximum(weight_sum, 1e-12)[..., None]
                blend = alpha
            _apply(pixels, output, region, correction, blend, strength, scale)

    def _infer(self, filtered: torch.Tensor) -> torch.Tensor:
        """Network output ``y`` for a batch of filtered crops, float32."""
        batch = filtered.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            with torch.autocast(self.device.type, dtype=autocast_dtype(self.device), enabled=self.mixed_precision):
                output = self.model(batch)
        return output.float()


def _check_pixels(pixels: np.ndarray) -> None:
    if not isinstance(pixels, np.ndarray):
        raise InvalidOptionError(f"Pixels must be a numpy array, got {type(pixels).__name__}.")
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise InvalidOptionError(f"Pixels must be (height, width, 3 or 4), got shape {pixels.shape}.")
    if pixels.dtype not in _SCALE:
        raise InvalidOptionError(f"Pixels must be uint8, uint16 or float32, got {pixels.dtype}.")
    if min(pixels.shape[:2]) < MIN_SIDE:
        raise InvalidOptionError(f"The image is {pixels.shape[1]}x{pixels.shape[0]}; too small to hold a face.")


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def _clip(crop: tuple[int, int, int, int], height: int, width: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = crop
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def _union(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def _overlapping_groups(boxes: list[tuple[int, int, int, int]]) -> list[list[int]]:
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


def _crop_square(pixels: np.ndarray, crop: tuple[int, int, int, int], scale: float) -> np.ndarray:
    """The square crop as float32 RGB in [0, 1], mirrored (without repeating the edge) past the border."""
    height, width = pixels.shape[:2]
    x0, y0, x1, y1 = crop
    cx0, cy0, cx1, cy1 = _clip(crop, height, width)
    region = pixels[cy0:cy1, cx0:cx1, :3]
    if pixels.dtype == np.float32:
        inside = np.clip(region, 0.0, 1.0)
    else:
        inside = region.astype(np.float32)
        inside *= np.float32(1.0 / scale)
    pads = (cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1)
    if not any(pads):
        return np.ascontiguousarray(inside)
    top, bottom, left, right = pads
    if max(top, bottom) < inside.shape[0] and max(left, right) < inside.shape[1]:
        return cv2.copyMakeBorder(inside, top, bottom, left, right, cv2.BORDER_REFLECT_101)
    # Pads wider than the photo (whole-image mode on a long panorama): numpy mirrors repeatedly.
    return np.pad(inside, ((top, bottom), (left, right), (0, 0)), mode="reflect")


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    """Square float32 image resized to ``size``: area averaging down, bilinear up."""
    if image.shape[0] == size:
        return image
    interpolation = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def _inside_part(tensor_hwc: torch.Tensor, crop: tuple[int, int, int, int], height: int, width: int) -> torch.Tensor:
    """The part of a crop-sized (n, n, C) tensor that lies inside the photo."""
    x0, y0, _, _ = crop
    cx0, cy0, cx1, cy1 = _clip(crop, height, width)
    return tensor_hwc[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]


def _ramp(length: int, feather: float, open_start: bool, open_end: bool) -> np.ndarray:
    """1-D blend weight along one axis of a crop: smoothstep up from each edge that lies inside the photo."""
    positions = np.arange(length, dtype=np.float32) + 0.5
    weight = np.ones(length, np.float32)
    if feather <= 0:
        return weight
    if not open_start:
        t = np.clip(positions / feather, 0.0, 1.0)
        weight *= t * t * (3 - 2 * t)
    if not open_end:
        t = np.clip((length - positions) / feather, 0.0, 1.0)
        weight *= t * t * (3 - 2 * t)
    return weight


def _feather_mask(crop: tuple[int, int, int, int], height: int, width: int) -> np.ndarray:
    """Blend weight over the in-photo part of a crop; crop edges beyond the border are not feathered."""
    x0, y0, x1, y1 = crop
    feather = FEATHER * (x1 - x0)
    along_x = _ramp(x1 - x0, feather, open_start=x0 <= 0, open_end=x1 >= width)
    along_y = _ramp(y1 - y0, feather, open_start=y0 <= 0, open_end=y1 >= height)
    cx0, cy0, cx1, cy1 = _clip(crop, height, width)
    return np.outer(along_y[cy0 - y0 : cy1 - y0], along_x[cx0 - x0 : cx1 - x0])


def _apply(
    pixels: np.ndarray,
    output: np.ndarray,
    region: tuple[int, int, int, int],
    correction: np.ndarray,
    blend: np.ndarray,
    strength: float,
    scale: float,
) -> None:
    """``output[region] = x − s·w·D`` in the input's dtype, only where the blend weight is positive."""
    x0, y0, x1, y1 = region
    source = pixels[y0:y1, x0:x1, :3]
    # out = x − s·w·D, computed in the pixel scale: x_int − (s·scale)·w·D, so no float copy of x is divided.
    delta = correction * (blend * np.float32(strength * scale))[..., None]
    result = source.astype(np.float32)
    result -= delta
    touched = blend > 0
    if pixels.dtype == np.float32:
        np.clip(result, 0.0, 1.0, out=result)
        converted = result
    else:
        np.clip(result, 0.0, scale, out=result)
        result += 0.5
        converted = result.astype(pixels.dtype)
    target = output[y0:y1, x0:x1, :3]
    np.copyto(target, converted, where=touched[..., None])
