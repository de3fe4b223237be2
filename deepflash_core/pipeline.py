"""The DeepFlash pipeline: flash portrait in, studio-lit portrait out, same size, dtype and alpha.

Per face crop: resize to the network's input size, bilateral-filter, infer ``y``, turn it into the
low-frequency correction ``D = 2y − 1``, bring ``D`` back to the crop's native resolution with
edge-aware upsampling guided by the photo itself, and apply ``x − s·D`` through the subject matte
(:mod:`deepflash_core.matte.refine`): the person is corrected, the backdrop is not. Where the matte is
exactly 0 the correction is exactly 0, so those pixels stay bit-identical; the optional backdrop
lift (:mod:`deepflash_core.matte.backdrop`) is a smooth parametric brightening, never the network's output.
Then, unless turned off, red pupils and small flash glare on glasses are corrected inside each face
(:mod:`deepflash_core.eyes.stage`). What all of this needs to know about the photo before correcting it (faces,
the segmentation model's coarse matte, the eyes) is one :class:`~deepflash_core.detection.detect.Detection`,
made here or handed in (e.g. made in another process while this one loaded the model).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from deepflash_client.errors import InvalidOptionError, WeightsError
from deepflash_client.options import Options
from deepflash_core.detection.detect import Detection, detect
from deepflash_core.detection.faces import Face
from deepflash_core.device import autocast_dtype, select_device
from deepflash_core.encoding import bilateral, equations
from deepflash_core.encoding.bilateral import SIGMA_R_DEFAULT as SIGMA_R
from deepflash_core.eyes.stage import EyeReport, fix_face_eyes
from deepflash_core.look import Look
from deepflash_core.look.stage import correct_look
from deepflash_core.matte import backdrop, refine
from deepflash_core.network.film import reads_looks
from deepflash_core.network.registry import Encoding, model_kind
from deepflash_core.network.weights import ModelCard, load_model, resolve_weights
from deepflash_core.pixels import PIXEL_SCALE
from deepflash_core.reconstruction import upsample
from deepflash_core.reconstruction.blend import blend_weight, clip_box, find_subject, matte_span, overlapping_groups, union
from deepflash_core.result import ProgressCallback, Result, timed

MIN_SIDE = 8
# Faces per network call: a group photo must not need 30 crops' activations in memory at once.
MAX_BATCH = 4
# Full-resolution pixels converted to float at once while a crop is shrunk: a strip that stays in cache.
SHRINK_STRIP_PIXELS = 1 << 16
# Stage timer; benchmarks swap in time.process_time to count CPU seconds on a busy machine.
CLOCK: Callable[[], float] = time.perf_counter


class Pipeline:
    """A loaded model and the steps around it; reuse one instance for many photos."""

    def __init__(
        self,
        model: torch.nn.Module,
        card: ModelCard,
        device: torch.device | str = "cpu",
        mixed_precision: bool = False,
        weights_path: Path | None = None,
    ) -> None:
        if model_kind(card.architecture).encoding is not Encoding.BILATERAL:
            raise WeightsError(f"'{card.name}' is a {card.architecture} model for evaluation only; "
                               "the pipeline runs models that predict the bilateral-encoded difference.")
        self.device = torch.device(device)
        self.model = model.eval().to(device=self.device, memory_format=torch.channels_last)
        self.card = card
        self.input_size = int(card.config.input_size)
        self.mixed_precision = mixed_precision
        self.weights_path = weights_path

    @classmethod
    def load(cls, weights: Path | str | None = None, device: str = "auto", mixed_precision: bool = False) -> Pipeline:
        """Load verified weights (a path or an installed model's name; the default when None) onto a device.

        Raises:
            WeightsError: weights missing, corrupt, or not matching their card.
            InvalidOptionError: the device is unknown or unavailable.
        """
        torch_device = select_device(device)
        model, card = load_model(weights, torch_device)
        return cls(model, card, torch_device, mixed_precision, weights_path=resolve_weights(weights))

    def describe(self) -> dict[str, object]:
        """Device, weights and model card, for ``deepflash info`` and the server."""
        return {
            "device": str(self.device),
            "mixed_precision": self.mixed_precision,
            "weights": str(self.weights_path) if self.weights_path else None,
            "model_card": self.card.to_dict(),
        }

    def process(self, pixels: np.ndarray, options: Options | None = None, progress: ProgressCallback | None = None,
                detection: Detection | None = None) -> Result:
        """Correct the flash look on every face of ``pixels``.

        Args:
            pixels: ``(H, W, 3)`` or ``(H, W, 4)`` uint8, uint16, or float32 in [0, 1]; a fourth
                channel is alpha and is returned untouched.
            options: what to do (strength, whole-image mode, …); the defaults when None.
            progress: optional callback ``(stage, fraction)``.
            detection: what :func:`deepflash_core.detection.detect.detect` found in these pixels with these
                options (e.g. in another process); found here when None. The result is the same either way.

        Returns:
            A :class:`Result` whose pixels have the input's shape and dtype.

        Raises:
            NoFaceError: no face was found and ``options.whole_image`` is False.
            InvalidOptionError: the pixel array has an unsupported shape or dtype, or ``detection`` was
                made for another size or other options.
        """
        options = options or Options()
        _check_pixels(pixels)
        report = progress or (lambda stage, fraction: None)
        warnings: list[str] = []

        report("detect", 0.0)
        if detection is None:
            detection = detect(pixels, options, clock=CLOCK)
        else:
            detection.check(pixels, options)
        timings = dict(detection.timings)
        faces = detection.faces
        with _timed(timings, "blend"):
            output = pixels.copy()  # every pixel outside the person comes from this exact copy
        report("matte", 0.03)
        with _timed(timings, "matte"):
            subject = find_subject(pixels, detection.coarse, faces, options, warnings)
        person = refine.to_uint8(subject) if options.with_matte else None
        if options.strength == 0:
            report("done", 1.0)
            return Result(output, faces, timings, [*warnings, "strength 0: the photo is returned unchanged"], person)

        scale = PIXEL_SCALE[pixels.dtype]
        strength = float(options.strength)
        report("look", 0.04)
        with _timed(timings, "look"):
            look = correct_look(pixels, output, faces, subject, options, warnings)
        # The network corrects the photo as the look left it.
        source = output if look is not None else pixels
        report("prepare", 0.05)
        with _timed(timings, "prepare"):
            plans = [_plan_crop(source, face, self.input_size, scale, options.whole_image) for face in faces]
            batch = torch.from_numpy(np.stack([plan.guide_low for plan in plans])).permute(0, 3, 1, 2).to(self.device)
        sigma_s = bilateral.sigma_s_for(self.input_size, self.input_size)
        corrections = []
        for first in range(0, len(plans), MAX_BATCH):
            chunk = batch[first : first + MAX_BATCH]
            report("filter", 0.1 + 0.4 * first / len(plans))
            with _timed(timings, "filter"):
                filtered = bilateral.bilateral_filter(chunk, sigma_s, SIGMA_R)
            report("network", 0.1 + 0.4 * (first + 0.5 * len(chunk)) / len(plans))
            with _timed(timings, "network"):
                corrections.append(equations.correction(self._infer(filtered, look)))
        corrections_low = torch.cat(corrections)
        groups = overlapping_groups([plan.inside for plan in plans])
        for done, group in enumerate(groups):
            report("upsample", 0.5 + 0.4 * done / len(groups))
            members = [(plans[index], corrections_low[index : index + 1]) for index in group]
            _correct_group(source, output, members, subject, strength, scale, self.device, timings)
        if options.background == "lift":
            report("backdrop", 0.9)
            with _timed(timings, "backdrop"):
                centre = tuple(np.mean([((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2) for f in faces], axis=0))
                backdrop.lift_backdrop(pixels, output, subject, centre, strength, scale)
        if options.red_eye:
            report("eyes", 0.95)
            with _timed(timings, "eyes"):
                eyes = EyeReport()
                for found in detection.eyes or []:
                    # Located on the photo as it came, corrected on the output (same geometry).
                    eyes.add(fix_face_eyes(output, found.eyes, found.glasses))
            warnings += eyes.warnings
        report("done", 1.0)
        return Result(output, faces, timings, warnings, person)

    def _infer(self, filtered: torch.Tensor, look: Look | None = None) -> torch.Tensor:
        """Network output ``y`` for a batch of filtered crops, float32.

        A model conditioned on looks (``look_dim`` in its config, :func:`deepflash_core.network.film.reads_looks`) gets the
        requested look as ``model(batch, look)``, a ``(B, look_dim)`` tensor (:meth:`Look.as_condition`); without a look (no face
        to measure one on) it gets None, its "no condition".

        On the CPU the network runs on one thread: how a convolution's sums are split over threads
        changes their last bits, and so, now and then, an output pixel. On one thread a photo gives the
        same file on any machine, in any front end, whatever its core count (a batch job's workers run
        one thread each); and at the network's few-hundred-pixel input a second thread costs more in
        waking and parking its workers than it saves.
        """
        batch = filtered.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), bilateral.one_cpu_thread(self.device):
            with torch.autocast(self.device.type, dtype=autocast_dtype(self.device), enabled=self.mixed_precision):
                if reads_looks(self.model):
                    condition = None if look is None else \
                        torch.from_numpy(look.as_condition()).to(self.device).expand(batch.shape[0], -1)
                    output = self.model(batch, condition)
                else:
                    output = self.model(batch)
        return output.float()


@dataclass
class _CropPlan:
    """One face crop: where it lies in the photo and at network resolution, and its guides.

    Attributes:
        face: the face the crop belongs to.
        inside: the part of the square crop inside the photo, ``(x0, y0, x1, y1)``.
        low_inside: where ``inside`` lies in the network-size square, ``(x0, y0, x1, y1)``.
        guide_high: ``inside`` at native resolution, ``(h, w, 3)``: the photo's own pixels (a view) for
            integer pixels, float32 RGB clipped to [0, 1] for float ones.
        guide_low: the whole square crop at network size, mirrored past the border, ``(m, m, 3)``.
        whole_image: the crop is the whole frame (no face), applied with full weight everywhere.
    """

    face: Face
    inside: tuple[int, int, int, int]
    low_inside: tuple[int, int, int, int]
    guide_high: np.ndarray
    guide_low: np.ndarray
    whole_image: bool = False


def _plan_crop(pixels: np.ndarray, face: Face, size: int, scale: float, whole_image: bool = False) -> _CropPlan:
    """Cut a face's crop and make its network-size copy.

    No float copy of the crop at full resolution is made: the network-size copy is the part inside the
    photo shrunk strip by strip (:func:`_shrink`) to a whole number of low-resolution pixels and
    mirrored out to the full square at low resolution, which costs nothing, instead of mirroring at
    full resolution; the upsampler reads the photo's own pixels as its guide.
    """
    height, width = pixels.shape[:2]
    x0, y0, x1, y1 = face.crop
    inside = clip_box(face.crop, height, width)
    cx0, cy0, cx1, cy1 = inside
    ratio = size / (x1 - x0)
    lx0 = min(round((cx0 - x0) * ratio), size - 1)
    ly0 = min(round((cy0 - y0) * ratio), size - 1)
    lx1 = min(max(lx0 + 1, round((cx1 - x0) * ratio)), size)
    ly1 = min(max(ly0 + 1, round((cy1 - y0) * ratio)), size)
    region = pixels[cy0:cy1, cx0:cx1, :3]
    guide_high = np.clip(region, 0.0, 1.0) if pixels.dtype == np.float32 else region
    low = _shrink(guide_high, lx1 - lx0, ly1 - ly0, scale)
    guide_low = _mirror_pad(low, (ly0, size - ly1, lx0, size - lx1))
    return _CropPlan(face, inside, (lx0, ly0, lx1, ly1), guide_high, guide_low, whole_image)


def _shrink(image: np.ndarray, width: int, height: int, scale: float) -> np.ndarray:
    """``image`` (values up to ``scale``) as float32 in [0, 1] at ``width x height``: area averaging down, bilinear up.

    Integer pixels going down in both directions are converted a strip of rows at a time and narrowed
    (area averaging is separable), then the narrow image is shortened: no full-resolution float copy.
    """
    rows, columns = image.shape[:2]
    if image.dtype == np.float32 or width > columns or height > rows:
        converted = image if image.dtype == np.float32 else np.multiply(image, np.float32(1.0 / scale), dtype=np.float32)
        return _resize(converted, width, height)
    narrow = np.empty((rows, width, image.shape[2]), np.float32)
    step = max(1, SHRINK_STRIP_PIXELS // columns)
    for first in range(0, rows, step):
        strip = np.multiply(image[first : first + step], np.float32(1.0 / scale), dtype=np.float32)
        narrow[first : first + step] = _resize(strip, width, strip.shape[0])
    return _resize(narrow, width, height)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Float32 image resized: area averaging down, bilinear up."""
    if image.shape[:2] == (height, width):
        return np.ascontiguousarray(image)
    interpolation = cv2.INTER_AREA if image.shape[1] > width or image.shape[0] > height else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def _mirror_pad(image: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """Mirror past the border without repeating the edge (as the bilateral filter does)."""
    top, bottom, left, right = pads
    if not any(pads):
        return image
    if max(top, bottom) < image.shape[0] and max(left, right) < image.shape[1]:
        return cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REFLECT_101)
    # Pads wider than the image (a long panorama in whole-image mode): numpy mirrors repeatedly.
    mode = "reflect" if min(image.shape[:2]) > 1 else "edge"
    return np.pad(image, ((top, bottom), (left, right), (0, 0)), mode=mode)


def _correct_group(
    pixels: np.ndarray,
    output: np.ndarray,
    members: list[tuple[_CropPlan, torch.Tensor]],
    subject: np.ndarray,
    strength: float,
    scale: float,
    device: torch.device,
    timings: dict[str, float],
) -> None:
    """Correct faces whose crops overlap, writing the blended result into ``output``.

    Where crops overlap, their corrections are averaged with their blend weights and applied once,
    with the largest of the weights, so no pixel is corrected twice.
    """
    region = union([plan.inside for plan, _ in members])
    rx0, ry0, rx1, ry1 = region
    channels = pixels.shape[2]
    gain = np.float32(strength * scale)
    if len(members) == 1:
        plan, correction_low = members[0]
        with _timed(timings, "upsample"):
            spent = _subtract_strips(pixels, output, plan, subject, gain, correction_low, device)
        # The blend's share (weights, writing the output) was taken strip by strip inside the upsampling.
        timings["blend"] = timings.get("blend", 0.0) + spent
        timings["upsample"] -= spent
        return
    delta = np.zeros((ry1 - ry0, rx1 - rx0, channels), np.float32)  # alpha's delta stays 0
    delta_chw = torch.from_numpy(delta).permute(2, 0, 1)[:3]
    weighted_sum = torch.zeros((3, ry1 - ry0, rx1 - rx0))
    weight_sum = torch.zeros((ry1 - ry0, rx1 - rx0))
    blend = torch.zeros((ry1 - ry0, rx1 - rx0))
    for plan, correction_low in members:
        with _timed(timings, "upsample"):
            correction = _upsample(plan, correction_low, device)
        with _timed(timings, "blend"):
            cx0, cy0, cx1, cy1 = plan.inside
            window = (slice(cy0 - ry0, cy1 - ry0), slice(cx0 - rx0, cx1 - rx0))
            weight = torch.from_numpy(blend_weight(plan.face.crop, plan.inside, plan.whole_image, subject))
            weighted_sum[(slice(None), *window)] += correction * weight
            weight_sum[window] += weight
            torch.maximum(blend[window], weight, out=blend[window])
    with _timed(timings, "blend"):
        factor = blend * gain / weight_sum.clamp_min(1e-12)
        torch.mul(weighted_sum, factor, out=delta_chw)
    with _timed(timings, "blend"):
        _subtract_into(pixels, output, region, delta)


def _subtract_strips(pixels: np.ndarray, output: np.ndarray, plan: _CropPlan, subject: np.ndarray, gain: np.float32,
                     correction_low: torch.Tensor, device: torch.device) -> float:
    """Correct one crop that overlaps no other: each strip of its upsampled correction, times its blend
    weight, is subtracted into ``output`` while it is in cache (no full-resolution correction exists).

    Returns:
        The stage clock's seconds spent on the weights and the subtraction (the blend's share).
    """
    cx0, cy0, cx1, cy1 = plan.inside
    channels = pixels.shape[2]
    spent = 0.0
    delta: np.ndarray | None = None
    zeros: np.ndarray | None = None

    def subtract(batch_index: int, rows: slice, columns: slice, strip: torch.Tensor) -> None:
        nonlocal spent, delta, zeros
        started = CLOCK()
        weight = blend_weight(plan.face.crop, plan.inside, plan.whole_image, subject, gain,
                              rows=(rows.start, rows.stop), columns=(columns.start, columns.stop))
        strip.mul_(torch.from_numpy(weight))
        size = weight.size
        if delta is None or delta.shape[0] < size:
            delta = np.empty((size, channels), np.float32)
            zeros = np.zeros(size, np.float32)  # alpha's delta
        shape = weight.shape
        planes = list(strip.numpy()) + [zeros[:size].reshape(shape)] * (channels - 3)
        merged = cv2.merge(planes, dst=delta[:size].reshape(*shape, channels))
        region = (cx0 + columns.start, cy0 + rows.start, cx0 + columns.stop, cy0 + rows.stop)
        _subtract_into(pixels, output, region, merged)
        spent += CLOCK() - started

    # Only the columns where the matte is not zero: elsewhere the weight, so the correction, is nothing.
    _upsample(plan, correction_low, device, sink=subtract, span=matte_span(subject, plan.inside))
    return spent


def _upsample(plan: _CropPlan, correction_low: torch.Tensor, device: torch.device,
              sink: upsample.Sink | None = None, span: upsample.Span | None = None) -> torch.Tensor | None:
    """The crop's correction at native resolution over its inside part, ``(3, h, w)`` float32 on the CPU.

    With ``sink`` it is handed over strip by strip instead (see :func:`deepflash_core.reconstruction.upsample.guided_upsample`).
    """
    lx0, ly0, lx1, ly1 = plan.low_inside
    low = correction_low[:, :, ly0:ly1, lx0:lx1].to(device)
    height, width = plan.guide_high.shape[:2]
    if height <= low.shape[2] and width <= low.shape[3]:
        # A crop smaller than the network input: plain area averaging brings D down, nothing to guide.
        correction = F.interpolate(low, size=(height, width), mode="area")[0].float().cpu()
        if sink is None:
            return correction
        sink(0, slice(0, height), slice(0, width), correction)
        return None
    guide_low = torch.from_numpy(np.ascontiguousarray(plan.guide_low[ly0:ly1, lx0:lx1])).permute(2, 0, 1)[None]
    guide_high = upsample.guide_view(plan.guide_high)
    if device.type == "cpu":
        result = upsample.guided_upsample(low, guide_low, guide_high, sink=sink, span=span)
    else:
        result = upsample.guided_upsample(low, guide_low.to(device), guide_high.to(device), sink=sink, span=span)
    return None if result is None else result[0].float().cpu()


def _subtract_into(pixels: np.ndarray, output: np.ndarray, region: tuple[int, int, int, int], delta: np.ndarray) -> None:
    """``output[region] = x − delta`` rounded and saturated in the input's dtype, in one pass.

    Where the blend weight is 0 the delta is exactly 0, so those pixels keep their exact values.
    """
    x0, y0, x1, y1 = region
    source = pixels[y0:y1, x0:x1]
    target = output[y0:y1, x0:x1]
    if pixels.dtype == np.float32:
        np.subtract(source, delta, out=target)
        np.clip(target[..., :3], 0.0, 1.0, out=target[..., :3])
        return
    depth = cv2.CV_8U if pixels.dtype == np.uint8 else cv2.CV_16U
    # OpenCV writes straight into the output's region (a view); it would allocate only on a mismatch.
    result = cv2.subtract(source, delta, dst=target, dtype=depth)
    if not np.shares_memory(result, output):
        target[...] = result.reshape(target.shape)


def _check_pixels(pixels: np.ndarray) -> None:
    if not isinstance(pixels, np.ndarray):
        raise InvalidOptionError(f"Pixels must be a numpy array, got {type(pixels).__name__}.")
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise InvalidOptionError(f"Pixels must be (height, width, 3 or 4), got shape {pixels.shape}.")
    if pixels.dtype not in PIXEL_SCALE:
        raise InvalidOptionError(f"Pixels must be uint8, uint16 or float32, got {pixels.dtype}.")
    if min(pixels.shape[:2]) < MIN_SIDE:
        raise InvalidOptionError(f"The image is {pixels.shape[1]}x{pixels.shape[0]}; too small to hold a face.")


def _timed(timings: dict[str, float], stage: str) -> AbstractContextManager[None]:
    return timed(timings, stage, CLOCK)
