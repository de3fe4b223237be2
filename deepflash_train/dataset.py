"""Synthetic flash/studio training pairs, rendered on the fly with the paper's augmentation.

Every sample is a pure function of ``(seed, epoch, index)``: the studio portrait is rotated
about the face centre, cropped and rescaled to the training size, the virtual flash renders its
input with parameters drawn from an RNG seeded by those three numbers, and both are bilateral
filtered. Nothing depends on worker order or earlier samples, so a resumed run sees exactly the
data an uninterrupted run would have seen.

Augmentation (×20 per portrait, as in the paper): five rotations −20°…+20° about the face-box
centre × two crops (the pipeline's head crop, and a tighter crop to the face box, rescaled) ×
horizontal flip. Fresh flash parameters every epoch come on top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from deepflash_core.detection.faces import CROP_SCALE, CROP_SHIFT_UP, LANDMARK_GROUPS, LANDMARK_INDICES, Face
from deepflash_train.landmarks import FaceLandmarks

ROTATIONS_DEG: tuple[float, ...] = (-20.0, -10.0, 0.0, 10.0, 20.0)
# The tight crop: the face box enlarged a little, so the network also learns faces that fill the frame.
TIGHT_CROP_SCALE = 1.4
AUGMENTATIONS = len(ROTATIONS_DEG) * 2 * 2
IDENTITY_AUGMENTATION = ROTATIONS_DEG.index(0.0)
"""Augmentation index with no rotation, the pipeline's crop and no flip (used for evaluation)."""

class FlashRendererLike(Protocol):
    """What the dataset needs from the virtual flash (``deepflash_train.renderer.FlashRenderer``)."""

    def render(self, studio: np.ndarray, face: Face, rng: np.random.Generator) -> tuple[np.ndarray, Any]: ...


@dataclass(frozen=True)
class Augmentation:
    """One of the paper's 20 augmentations."""

    rotation_deg: float
    tight_crop: bool
    flip: bool

    @classmethod
    def from_index(cls, index: int) -> Augmentation:
        if not 0 <= index < AUGMENTATIONS:
            raise ValueError(f"augmentation index must be in [0, {AUGMENTATIONS}), got {index}")
        return cls(ROTATIONS_DEG[index % 5], bool((index // 5) % 2), bool(index // 10))


def face_from_points(points: np.ndarray, box: tuple[float, float, float, float], crop: tuple[int, int, int, int]) -> Face:
    """A :class:`Face` from dlib's 68 points, in the grouped form ``faces.detect_faces`` returns."""
    groups = {name: [(float(points[i, 0]), float(points[i, 1])) for i in LANDMARK_INDICES[name]] for name in LANDMARK_GROUPS}
    return Face(box=tuple(int(round(v)) for v in box), landmarks=groups, crop=crop)


def crop_affine(face: FaceLandmarks, size: int, augmentation: Augmentation) -> np.ndarray:
    """2×3 matrix mapping source pixels to the ``size``² training crop.

    The crop is the pipeline's head crop (``faces.crop_for_box``: a square ``CROP_SCALE`` times
    the box side, shifted up) or the tighter face crop, turned by the rotation about the face-box
    centre. Its "up" shift follows the rotated face, so the head stays framed the same way.
    """
    left, top, right, bottom = face.box
    box_side = max(right - left, bottom - top)
    scale_of_box = TIGHT_CROP_SCALE if augmentation.tight_crop else CROP_SCALE
    side = scale_of_box * box_side
    shift_up = (0.0 if augmentation.tight_crop else CROP_SHIFT_UP) * side
    cx, cy = face.centre
    angle = math.radians(augmentation.rotation_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    zoom = size / side
    # Rotate about the face centre (counter-clockwise on screen for positive angles), scale, and
    # place the face centre below the crop centre by the shift.
    rotation = np.array([[cos, sin], [-sin, cos]], dtype=np.float64) * zoom
    offset = np.array([size / 2.0, size / 2.0 + shift_up * zoom]) - rotation @ np.array([cx, cy])
    # Pixel centres: map centre-of-pixel coordinates consistently for any zoom.
    matrix = np.hstack([rotation, offset[:, None]])
    return matrix


def warp_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Apply a crop matrix with reflection at the border (as the pipeline pads its crops)."""
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2×3 affine matrix to ``(N, 2)`` points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


class PortraitStore:
    """Studio portraits kept in memory at a resolution just above what the crops need.

    Loading and decoding a 1350² JPEG costs ~30 ms; keeping the decoded, downscaled images
    makes a sample cost only a warp plus the render.
    """

    def __init__(self, root: Path, files: list[str], landmarks: dict[str, dict], size: int) -> None:
        self.root = Path(root)
        self.files = list(files)
        self.size = size
        self.landmarks = landmarks
        self._images: dict[str, tuple[np.ndarray, FaceLandmarks]] = {}
        self._mattes: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.files)

    def get(self, index: int) -> tuple[np.ndarray, FaceLandmarks]:
        """uint8 RGB image and its face, both scaled so the tight crop is about ``size`` pixels."""
        name = self.files[index]
        if name not in self._images:
            entry = self.landmarks[name]
            with Image.open(self.root / name) as image:
                rgb = np.asarray(image.convert("RGB"))
            box = np.asarray(entry["box"], dtype=np.float64)
            points = np.asarray(entry["landmarks"], dtype=np.float64)
            box_side = max(box[2] - box[0], box[3] - box[1])
            # Downscale with area averaging now, so the bilinear warp later never aliases.
            scale = min(1.0, 1.25 * self.size / (TIGHT_CROP_SCALE * box_side))
            if scale < 1.0:
                new_size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
                rgb = cv2.resize(rgb, new_size, interpolation=cv2.INTER_AREA)
                sx, sy = new_size[0] / entry["width"], new_size[1] / entry["height"]
                box = box * np.array([sx, sy, sx, sy])
                points = (points + 0.5) * np.array([sx, sy]) - 0.5
            face = FaceLandmarks(box=tuple(float(v) for v in box), landmarks=points.astype(np.float32))
            self._images[name] = (np.ascontiguousarray(rgb), face)
        return self._images[name]

    def matte(self, index: int) -> np.ndarray:
        """Subject matte (float32, image size) of a portrait, computed once on the whole portrait.

        GrabCut costs more than a whole render at training size; a crop's matte is this one warped.
        """
        name = self.files[index]
        if name not in self._mattes:
            from deepflash_train.renderer.geometry import subject_matte

            rgb, face = self.get(index)
            whole = face_from_points(face.landmarks, face.box, (0, 0, rgb.shape[1], rgb.shape[0]))
            self._mattes[name] = subject_matte(rgb.astype(np.float32) / 255.0, whole).astype(np.float32)
        return self._mattes[name]

    def preload(self, progress: bool = False) -> None:
        """Decode every portrait and compute its matte now (before worker processes fork)."""
        from tqdm import tqdm

        for index in tqdm(range(len(self)), desc="portraits", disable=not progress):
            self.matte(index)


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The RNG of one sample: independent streams for every (seed, epoch, index)."""
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, index]))


def face_hull(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 mask of the convex hull of the 68 landmarks (the face, for the shading figures)."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return mask.astype(np.float32)


class Pair(NamedTuple):
    """One training pair at the training size (see :func:`make_pair`).

    ``flash`` and ``studio`` are float32 ``(S, S, 3)`` in [0, 1], ``face`` the ``(S, S)`` landmark-hull mask.
    With the look input, ``look_flash`` is the flash after the global transform toward the target's look and
    ``look`` that look's condition vector (:mod:`deepflash_train.look_input`); otherwise None.
    """

    flash: np.ndarray
    studio: np.ndarray
    face: np.ndarray
    look_flash: np.ndarray | None = None
    look: np.ndarray | None = None


def make_pair(
    studio_u8: np.ndarray,
    face: FaceLandmarks,
    size: int,
    augmentation: Augmentation,
    renderer: FlashRendererLike,
    rng: np.random.Generator,
    matte: np.ndarray | None = None,
    shift: bool = False,
    identity_pairs: bool = True,
    render_size: int | None = None,
    no_flash: bool = False,
    look_input: bool = False,
) -> Pair:
    """Crop and augment one studio portrait, randomise its look and render its flash input.

    With a renderer that can ``prepare`` (the :class:`~deepflash_train.renderer.FlashRenderer`),
    the target gets a :class:`~deepflash_train.renderer.studio_look.StudioLook` (backdrop through
    the matte, exposure, white balance, saturation, key light); the flash is rendered from the
    restyled portrait. ``matte``, the subject matte of the whole portrait, is warped along with it
    when given; otherwise one is computed on the crop.

    Args:
        shift: draw flash and look from the shift test's held-out ranges.
        identity_pairs: allow identity pairs (input = target); evaluation leaves them out.
        no_flash: make every pair an identity pair (a photo with no flash cue: nothing to change).
        render_size: render at this side and scale the pair down to ``size`` (INTER_AREA).
        look_input: also give what a look-conditioned model reads (needs a renderer that can ``prepare``).

    Returns:
        The :class:`Pair`.
    """
    side = render_size or size
    matrix = crop_affine(face, side, augmentation)
    studio = warp_crop(studio_u8, matrix, side).astype(np.float32) / 255.0
    points = transform_points(face.landmarks.astype(np.float64), matrix)
    corners = transform_points(np.array([[face.box[0], face.box[1]], [face.box[2], face.box[3]],
                                         [face.box[0], face.box[3]], [face.box[2], face.box[1]]]), matrix)
    box = (*corners.min(axis=0), *corners.max(axis=0))
    crop_face = face_from_points(points, box, (0, 0, side, side))
    # The flash is rendered in the camera's frame (after rotation and cropping), then the
    # pair is flipped together, so the renderer never sees mirrored landmark names.
    if hasattr(renderer, "prepare"):
        from deepflash_train.renderer import FlashParams, studio_look, subject_matte

        if matte is not None:
            crop_matte = cv2.warpAffine(matte, matrix, (side, side), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REFLECT_101)
        else:
            crop_matte = subject_matte(studio, crop_face)
        look = studio_look.StudioLook.sample(rng, shift)
        studio = studio_look.restyle(studio, crop_matte, look, rng)
        ctx = renderer.prepare(studio, crop_face, matte=crop_matte)
        params = FlashParams.sample(rng, shift)
        flash = None if no_flash else renderer.render_prepared(ctx, rng, params)[0]
        studio = studio_look.key_light(studio, ctx, look)
        if no_flash or (look.identity and identity_pairs):
            flash = studio.copy()
    else:
        flash, _ = renderer.render(studio, crop_face, rng)
    flash = np.clip(np.asarray(flash, dtype=np.float32), 0.0, 1.0)
    if side != size:
        flash = cv2.resize(flash, (size, size), interpolation=cv2.INTER_AREA)
        studio = cv2.resize(studio, (size, size), interpolation=cv2.INTER_AREA)
        points = points * (size / side)
    hull = face_hull(points, (size, size))
    images = [flash, studio, hull]
    condition = None
    if look_input:
        from deepflash_train.look_input import look_pair

        small_face = crop_face if side == size else face_from_points(points, tuple(c * size / side for c in box),
                                                                     (0, 0, size, size))
        small_matte = cv2.resize(crop_matte, (size, size), interpolation=cv2.INTER_AREA) if side != size else crop_matte
        moved, condition = look_pair(flash, studio, small_face, small_matte, flip=augmentation.flip)
        images.append(moved)
    if augmentation.flip:
        images = [image[:, ::-1] for image in images]
    images = [np.ascontiguousarray(image) for image in images]
    return Pair(*images[:3], images[3] if look_input else None, condition)


def bilateral_image(image: np.ndarray) -> np.ndarray:
    """``BL(image)`` of one float32 ``(H, W, 3)`` image with the method's σs (3 % of the larger side), σr 0.4.

    Uses ``cv2.bilateralFilter``, the exact L1-range filter that ``bilateral.bilateral_filter``
    approximates with a grid (mean difference ~0.001 at 128²). At training sizes the exact filter
    is ~100× faster than the grid, whose cost does not shrink with the image.
    """
    from deepflash_core.encoding.bilateral import SIGMA_R_DEFAULT, sigma_s_for

    sigma_s = sigma_s_for(image.shape[0], image.shape[1])
    return cv2.bilateralFilter(np.ascontiguousarray(image, dtype=np.float32), -1, SIGMA_R_DEFAULT, sigma_s)


class SyntheticPairs(Dataset):
    """Flash/studio pairs rendered on the fly; ``len = portraits × augmentations``.

    Item ``i`` is portrait ``i // augmentations`` under augmentation ``i % augmentations``;
    call :meth:`set_epoch` so each epoch draws fresh flash parameters.

    Each item is a dict of float32 ``(3, S, S)`` tensors in [0, 1]: ``flash`` (x), ``studio`` (o),
    ``flash_filtered`` (BL(x)) and ``studio_filtered`` (BL(o)), and ``face`` ``(1, S, S)``, the
    landmark hull.

    Args:
        shift: the shift test: flash and look from the held-out ranges, and every
            ``1 / SHIFT_LARGE_FRACTION``-th item rendered at ``SHIFT_RENDER_SIZE``² and scaled down.
        identity_pairs: include identity pairs (training); evaluation sets False.
        no_flash: every pair is an identity pair (measures how much a model changes a photo
            that has no flash cue).
        look_input: items also hold what a look-conditioned model reads: ``look_flash`` (the flash after
            the global transform toward the target's look), its filtered ``look_flash_filtered``, and
            ``look``, the target's look as a condition vector.
    """

    def __init__(
        self,
        store: PortraitStore,
        renderer: FlashRendererLike,
        size: int,
        seed: int = 0,
        augment: bool = True,
        epoch: int = 0,
        shift: bool = False,
        identity_pairs: bool = True,
        no_flash: bool = False,
        look_input: bool = False,
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.size = size
        self.seed = seed
        self.augmentations = AUGMENTATIONS if augment else 1
        self.epoch = epoch
        self.shift = shift
        self.identity_pairs = identity_pairs
        self.no_flash = no_flash
        self.look_input = look_input
        self._large: PortraitStore | None = None

    def _large_store(self) -> PortraitStore:
        """The same portraits at full resolution, for the shift test's large renders."""
        from deepflash_train.renderer.params import SHIFT_RENDER_SIZE

        if self._large is None:
            self._large = PortraitStore(self.store.root, self.store.files, self.store.landmarks, SHIFT_RENDER_SIZE)
        return self._large

    def set_epoch(self, epoch: int) -> None:
        """Draw the flash parameters of this epoch (the geometry of an index never changes)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.store) * self.augmentations

    def augmentation_of(self, index: int) -> Augmentation:
        if self.augmentations == 1:
            return Augmentation.from_index(IDENTITY_AUGMENTATION)
        return Augmentation.from_index(index % self.augmentations)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        """Item ``key`` of the current epoch, or ``(epoch, index)`` (what persistent loader workers get)."""
        from deepflash_train.renderer.params import SHIFT_LARGE_FRACTION, SHIFT_RENDER_SIZE

        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        portrait = index // self.augmentations
        large = self.shift and index % round(1 / SHIFT_LARGE_FRACTION) == 0
        store = self._large_store() if large else self.store
        studio_u8, face = store.get(portrait)
        matte = store.matte(portrait) if hasattr(self.renderer, "prepare") else None
        rng = sample_rng(self.seed, epoch, index)
        pair = make_pair(studio_u8, face, self.size, self.augmentation_of(index), self.renderer, rng, matte,
                         shift=self.shift, identity_pairs=self.identity_pairs,
                         render_size=SHIFT_RENDER_SIZE if large else None, no_flash=self.no_flash,
                         look_input=self.look_input)
        images = {"flash": pair.flash, "studio": pair.studio,
                  "flash_filtered": bilateral_image(pair.flash), "studio_filtered": bilateral_image(pair.studio),
                  "face": pair.face[..., None]}
        if pair.look_flash is not None:
            images.update(look_flash=pair.look_flash, look_flash_filtered=bilateral_image(pair.look_flash))
        item = {key: torch.from_numpy(np.ascontiguousarray(value)).permute(2, 0, 1).contiguous()
                for key, value in images.items()}
        if pair.look is not None:
            item["look"] = torch.from_numpy(pair.look)
        return item
