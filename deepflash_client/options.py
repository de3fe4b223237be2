"""What a correction should do: the one request type every front end builds and the pipeline reads.

:class:`Options` is checked when it is made, so a value that crossed a trust boundary (the command line,
a protocol header, a web form, a plug-in dialog) is validated exactly once, where it is turned into
``Options``; the layers below trust it. The ranges live here and nowhere else.

Standard library only: the editor plug-ins carry it (``deepflash install`` copies the whole kit).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping, NamedTuple

from deepflash_client.errors import InvalidOptionError

STRENGTH_RANGE = (0.0, 1.0)
"""``s`` in ``x − s·D``: 0 leaves the photo as it is, 1 applies the full predicted correction."""
BACKGROUNDS = ("keep", "lift")
"""``keep``: everything outside the person stays untouched; ``lift``: a smooth brightening of the backdrop."""


class LookField(NamedTuple):
    """One number of a look (:class:`deepflash_core.look.Look`): its name, unit, accepted range and meaning."""

    name: str
    unit: str
    low: float
    high: float
    meaning: str


LOOK_FIELDS = (
    LookField("white_lightness", "L*", 0.0, 100.0, "lightness of the light's white reference: the brightest tenth "
              "of the eye openings (sclera), else the shine, else the face's brightest tenth"),
    LookField("white_a", "a*", -40.0, 40.0, "a* of the white reference: the light's green (-) to magenta (+)"),
    LookField("white_b", "b*", -40.0, 40.0, "b* of the white reference: the light's blue (-) to yellow (+)"),
    LookField("black_lightness", "L*", 0.0, 70.0, "black level: the pupils' L* (the darkest 3 % of the eye "
              "openings); flare and lifted shadows raise it"),
    LookField("face_lightness", "L*", 0.0, 100.0, "median L* of the face's skin: light and skin together"),
    LookField("face_chroma", "C*ab", 0.0, 80.0, "median chroma of the unclipped skin measured from the white reference; "
              "pale flash skin is low, studio skin about 2.5 times higher"),
    LookField("face_hue", "degrees", -180.0, 180.0, "hue angle of the skin's median colour seen from the white "
              "reference (about 40-70 under white light)"),
    LookField("contrast", "L*", 0.0, 40.0, "standard deviation of L* over the skin: modelling and texture"),
    LookField("key_x", "stops", -4.0, 4.0, "light falling across the face from its left to its right edge in the "
              "image: > 0 the key light stands on the image's right; the key-to-fill ratio is about 2**abs(key_x)"),
    LookField("key_y", "stops", -4.0, 4.0, "light from the chin up to the brow: > 0 the key light is above the eyes"),
    LookField("shine", "share", 0.0, 1.0, "share of the skin that is specular shine: much brighter and paler than "
              "the skin around it"),
    LookField("clipped", "share", 0.0, 1.0, "share of the face's pixels with a channel at full scale"),
)
"""The numbers of a look, in the order of its vector; the one home of their names, units and ranges."""
LOOK_NAMES = tuple(field.name for field in LOOK_FIELDS)
LOOK_AS_SHOT = "as-shot"
"""The look name that keeps the photo's own look: the global part of the correction changes nothing."""
DEFAULT_LOOK = "neutral-studio"
"""The look a correction takes when none is asked for (a preset shipped with the core)."""
_LOOK_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def check_look(look: Any) -> str | tuple[float | None, ...]:
    """``look`` as :class:`Options` stores it: a look's name, or its vector as a tuple.

    A vector holds one number per :data:`LOOK_FIELDS` entry, inside its range, or None for "the photo's own
    value". A name is checked for its form only (the core knows the presets).

    Raises:
        InvalidOptionError: anything else.
    """
    if isinstance(look, str):
        if not _LOOK_NAME.fullmatch(look):
            raise InvalidOptionError(f"look must be a look's name (lower-case letters, digits, '-') or "
                                     f"{len(LOOK_FIELDS)} numbers, got {look[:48]!r}.")
        return look
    if not isinstance(look, (list, tuple)) or len(look) != len(LOOK_FIELDS):
        raise InvalidOptionError(f"look must be a look's name or a list of {len(LOOK_FIELDS)} numbers "
                                 f"({', '.join(LOOK_NAMES)}), got {str(look)[:64]!r}.")
    values: list[float | None] = []
    for field, value in zip(LOOK_FIELDS, look):
        if value is None:
            values.append(None)
            continue
        # Compared before any float conversion, as strength is: an integer beyond a float's range overflows one.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (isinstance(value, float) and not math.isfinite(value)) or not field.low <= value <= field.high:
            raise InvalidOptionError(f"look's {field.name} must be a number between {field.low:g} and "
                                     f"{field.high:g} ({field.unit}) or null, got {_shown(value)}.")
        values.append(float(value))
    return tuple(values)


@dataclass(frozen=True)
class Options:
    """What one correction should do.

    Attributes:
        strength: how much of the predicted flash correction to apply, in :data:`STRENGTH_RANGE`.
        whole_image: treat the whole frame as one crop instead of detecting faces.
        background: one of :data:`BACKGROUNDS`.
        red_eye: repair red pupils.
        with_matte: also return the subject matte (8-bit, one channel) for an editor's layer mask.
        look: the look to correct toward: a preset's name (:data:`DEFAULT_LOOK`, :data:`LOOK_AS_SHOT`, ...) or
            a look's vector (:func:`check_look`).

    Raises:
        InvalidOptionError: a value has the wrong type or lies outside its range (NaN and infinity included).
    """

    strength: float = 1.0
    whole_image: bool = False
    background: str = "keep"
    red_eye: bool = True
    with_matte: bool = False
    look: str | tuple[float | None, ...] = DEFAULT_LOOK

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
        object.__setattr__(self, "look", check_look(self.look))

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (the protocol header carries them under these names)."""
        values = asdict(self)
        if isinstance(self.look, tuple):
            values["look"] = list(self.look)
        return values

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
