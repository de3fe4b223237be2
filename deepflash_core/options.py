"""What a correction should do: the one request type every front end builds and the pipeline reads.

:class:`Options` is checked when it is made, so a value that crossed a trust boundary (the command line,
a protocol header, a web form, a plug-in dialog) is validated exactly once, where it is turned into
``Options``; the layers below trust it. The ranges live here and nowhere else.

Standard library only: editor plug-ins vendor this module with ``protocol.py`` and ``client.py``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from deepflash_core.errors import InvalidOptionError

STRENGTH_RANGE = (0.0, 1.0)
"""``s`` in ``x − s·D``: 0 leaves the photo as it is, 1 applies the full predicted correction."""
BACKGROUNDS = ("keep", "lift")
"""``keep``: everything outside the person stays untouched; ``lift``: a smooth brightening of the backdrop."""


@dataclass(frozen=True)
class Options:
    """What one correction should do.

    Attributes:
        strength: how much of the predicted flash correction to apply, in :data:`STRENGTH_RANGE`.
        whole_image: treat the whole frame as one crop instead of detecting faces.
        background: one of :data:`BACKGROUNDS`.
        red_eye: repair red pupils.
        with_matte: also return the subject matte (8-bit, one channel) for an editor's layer mask.

    Raises:
        InvalidOptionError: a value has the wrong type or lies outside its range (NaN and infinity included).
    """

    strength: float = 1.0
    whole_image: bool = False
    background: str = "keep"
    red_eye: bool = True
    with_matte: bool = False

    def __post_init__(self) -> None:
        low, high = STRENGTH_RANGE
        strength = self.strength
        # Compared before any float conversion: an integer beyond a float's range overflows one.
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or \
                (isinstance(strength, float) and not math.isfinite(strength)) or not low <= strength <= high:
            raise InvalidOptionError(f"strength must be a number between {low:g} and {high:g}, "
                                     f"got {_shown(strength)}.")
        object.__setattr__(self, "strength", float(strength))
        for name in ("whole_image", "red_eye", "with_matte"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidOptionError(f"{name} must be true or false, got {getattr(self, name)!r}.")
        if self.background not in BACKGROUNDS:
            raise InvalidOptionError(f"background must be one of {', '.join(BACKGROUNDS)}, "
                                     f"got {str(self.background)[:32]!r}.")

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (the protocol header carries them under these names)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Options:
        """Options from a mapping that may leave fields out (their defaults apply); unknown keys are refused."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise InvalidOptionError(f"Unknown options: {', '.join(sorted(map(str, unknown)))[:200]}.")
        return cls(**dict(values))


def _shown(value: Any) -> str:
    """``value`` for an error message, short (an integer's digits are not worth repeating, nor always printable)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**16:
        return f"an integer of about {round(value.bit_length() * math.log10(2))} digits"
    return repr(value)[:32]


FIELDS = tuple(Options.__dataclass_fields__)
"""The option names, in declaration order."""
