"""The look a plug-in asks for: a preset from its menu, the photo's own, or the look of a reference layer.

The menu lists the presets the DeepFlash environment ships (written into the install record by ``deepflash
install``), the photo's own look, and :data:`REFERENCE`: another open image or layer, whose pixels the server
describes once (it keeps the look by the pixels' hash; this process keeps it too, so a docker that applies the
same reference again sends nothing twice). A reference that cannot give a look is refused with the server's
one line; nothing falls back to a preset. Standard library only (vendored with the plug-ins).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from deepflash_client.options import DEFAULT_LOOK, LOOK_AS_SHOT
from deepflash_client.protocol import ImageSpec, reference_key

REFERENCE = "reference"
"""The menu entry that takes the look of another open image or layer (never a preset's name on the wire)."""
AS_SHOT_LABEL = "The photo's own colour"
AS_SHOT_DESCRIPTION = "Keep the photo's colour and light; only the flash's marks are corrected"
KEPT = 16
"""Reference looks this process keeps (least recently used first out)."""


@dataclass(frozen=True)
class LookEntry:
    """One entry of a Look menu: the value sent (a preset's name, as-shot or :data:`REFERENCE`) and its words."""

    name: str
    label: str
    description: str


def look_menu(presets: list[dict[str, str]], reference_label: str) -> list[LookEntry]:
    """The Look menu: the default preset first, the other presets, the photo's own look, then the reference.

    Args:
        presets: the install record's ``looks`` (``name`` and ``description`` of each shipped preset); an older
            record without them still offers the default.
        reference_label: how this editor says "another open image or layer".
    """
    named = {preset["name"]: preset.get("description", "") for preset in presets} or {DEFAULT_LOOK: ""}
    order = sorted(named, key=lambda name: (name != DEFAULT_LOOK, name))
    entries = [LookEntry(name, _label(name) + (" (default)" if name == DEFAULT_LOOK else ""),
                         named[name] or _label(name)) for name in order]
    return [*entries, LookEntry(LOOK_AS_SHOT, AS_SHOT_LABEL, AS_SHOT_DESCRIPTION),
            LookEntry(REFERENCE, reference_label, "Take the light and colour of a portrait open in another image "
                      "or layer (its largest face)")]


def _label(name: str) -> str:
    return name.replace("-", " ").capitalize()


@dataclass(frozen=True)
class Reference:
    """A reference layer's pixels, laid out as a job's (packed samples of ``dtype``, row-major)."""

    pixels: bytes
    width: int
    height: int
    channels: int
    dtype: str

    def key(self) -> str:
        """Its layout and every byte of its pixels, hashed as the server does: two sends of one layer are one look."""
        return reference_key(ImageSpec(self.width, self.height, self.channels, self.dtype), self.pixels)


class DescribingClient(Protocol):
    """The part of ``deepflash_client.zmq_client.DeepFlashClient`` that describes a reference."""

    def describe_look(self, pixels: Any, width: int, height: int, channels: int, dtype: str) -> tuple[float, ...]: ...


_described: OrderedDict[str, tuple[float, ...]] = OrderedDict()


def reference_look(client: DescribingClient, reference: Reference) -> tuple[float, ...]:
    """The reference's look: from this process's memory when the same pixels were described, else the server's.

    Raises:
        ServerError: code ``bad_reference`` (no face, a tiny one, greyscale, not a photo), or another refusal.
    """
    key = reference.key()
    look = _described.get(key)
    if look is None:
        look = client.describe_look(reference.pixels, reference.width, reference.height, reference.channels,
                                    reference.dtype)
    _described[key] = look
    _described.move_to_end(key)
    while len(_described) > KEPT:
        _described.popitem(last=False)
    return look
