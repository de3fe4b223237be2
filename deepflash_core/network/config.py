"""The base of every model kind's settings: a frozen dataclass that a model card stores as JSON."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, TypeVar

from deepflash_client.errors import WeightsError

Config = TypeVar("Config", bound="CardConfig")


class CardConfig:
    """Mixin for a frozen dataclass of architecture settings, written into and read from model cards.

    Every kind's config has an ``input_size``: the side of the square crop the network takes, which
    the pipeline resizes face crops to.
    """

    input_size: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[Config], data: dict[str, Any]) -> Config:
        """Rebuild from a card's ``config``; unknown or invalid settings raise :class:`WeightsError`."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - known
        if unknown:
            raise WeightsError(f"Unknown model settings {sorted(unknown)}; this version knows {sorted(known)}.")
        try:
            return cls(**data)
        except (TypeError, ValueError) as error:
            raise WeightsError(f"Invalid model settings {data}: {error}") from error
