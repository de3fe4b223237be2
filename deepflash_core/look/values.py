"""A look as numbers: :class:`Look`, one per :data:`~deepflash_client.options.LOOK_FIELDS` entry.

numpy only (no OpenCV, no torch): the command line checks a requested preset before it forks the detection
child, which must start with neither of their thread pools loaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from deepflash_client.options import LOOK_FIELDS, LOOK_NAMES, check_look


@dataclass(frozen=True)
class Look:
    """A look: one number per :data:`LOOK_FIELDS` entry (names, units, ranges there); None is "the photo's own".

    A look measured by :func:`describe` has every number; a requested look (a preset, ``keep-colour`` say) may
    leave some to the photo (:meth:`resolve`).
    """

    white_lightness: float | None = None
    white_a: float | None = None
    white_b: float | None = None
    black_lightness: float | None = None
    face_lightness: float | None = None
    face_chroma: float | None = None
    face_hue: float | None = None
    contrast: float | None = None
    key_x: float | None = None
    key_y: float | None = None
    shine: float | None = None
    clipped: float | None = None

    def as_vector(self) -> tuple[float | None, ...]:
        """The numbers in :data:`LOOK_FIELDS` order (what :class:`~deepflash_core.options.Options` stores)."""
        return tuple(getattr(self, name) for name in LOOK_NAMES)

    @classmethod
    def from_vector(cls, values: tuple[float | None, ...] | list[float | None]) -> Look:
        """A look from its vector, each number checked against its range.

        Raises:
            InvalidOptionError: wrong length, a number out of range or not a number.
        """
        return cls(*check_look(list(values)))

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, float | None]) -> Look:
        """A look from a name -> number mapping (a preset file); missing names are the photo's own."""
        return cls.from_vector([values.get(name) for name in LOOK_NAMES])

    def resolve(self, own: Look) -> Look:
        """This look with every number it leaves open taken from ``own`` (the photo's measured look)."""
        return Look(*(mine if mine is not None else theirs for mine, theirs in zip(self.as_vector(), own.as_vector())))

    @property
    def complete(self) -> bool:
        return all(value is not None for value in self.as_vector())

    def as_condition(self) -> np.ndarray:
        """The complete look as a network condition: each number mapped from its range to [-1, 1], float32."""
        if not self.complete:
            raise ValueError("Resolve the look against the photo's own before using it as a condition.")
        return np.array([2.0 * (value - f.low) / (f.high - f.low) - 1.0 for value, f in zip(self.as_vector(), LOOK_FIELDS)],
                        np.float32)


assert tuple(f.name for f in fields(Look)) == LOOK_NAMES, "Look's fields follow LOOK_FIELDS"
