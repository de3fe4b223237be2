"""The face's own frame in a photo: where "across" (eye to eye) and "up" (chin to brow) run, in face sizes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepflash_core.detection.faces import Face


@dataclass(frozen=True)
class FaceAxes:
    """The face's own frame in the photo's pixels: ``across`` runs eye to eye, ``up`` chin to brow.

    Attributes:
        centre: the midpoint between the eyes, ``(x, y)``.
        across: the unit vector from the image-left eye to the other, divided by the face's width (jaw to jaw).
        up: the unit vector toward the brow, divided by the face's height (chin to brows).
    """

    centre: tuple[float, float]
    across: tuple[float, float]
    up: tuple[float, float]

    @classmethod
    def of(cls, face: Face) -> FaceAxes:
        marks = {name: np.asarray(points, np.float64) for name, points in face.landmarks.items()}
        left_eye, right_eye = marks["left_eye"].mean(0), marks["right_eye"].mean(0)
        across = (right_eye - left_eye) / max(float(np.hypot(*(right_eye - left_eye))), 1e-6)
        up = np.array([across[1], -across[0]])  # image y points down; "up" is toward the brow
        jaw = marks["chin"]
        brows = np.concatenate([marks["left_eyebrow"], marks["right_eyebrow"]])
        width = max(float(np.hypot(*(jaw[-1] - jaw[0]))), 1.0)
        height = max(float((brows.mean(0) - jaw[len(jaw) // 2]) @ up), 1.0)
        centre = 0.5 * (left_eye + right_eye)
        return cls((float(centre[0]), float(centre[1])), tuple(across / width), tuple(up / height))  # type: ignore[arg-type]

    def grid(self, x0: float, y0: float, columns: int, rows: int, step: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Across and up of a grid of ``rows × columns`` pixels ``step`` photo pixels apart, whose first pixel
        covers the photo from ``(x0, y0)``: ``(rows, columns)`` float32 each."""
        xs = (x0 + (np.arange(columns, dtype=np.float32) + 0.5) * step - 0.5 - self.centre[0])[None, :]
        ys = (y0 + (np.arange(rows, dtype=np.float32) + 0.5) * step - 0.5 - self.centre[1])[:, None]
        return (xs * np.float32(self.across[0]) + ys * np.float32(self.across[1]),
                xs * np.float32(self.up[0]) + ys * np.float32(self.up[1]))
