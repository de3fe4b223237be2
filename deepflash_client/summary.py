"""What a correction found and did besides its pixels: the part of a result that crosses the wire as JSON.

The core's :class:`deepflash_core.result.Result` gives one (``Result.summary()``) and is rebuilt from one
(``Result.from_summary``); a ``process`` reply carries its fields as header keys of the same names, the pixels
and the matte in frames of their own. The front ends hold one instead of copying the fields: the client's
:class:`~deepflash_client.client_base.ProcessReply`, the editors' ``Outcome``, the web page's ``PageResult``.
It lives in the client kit (standard library only) because the plug-ins carry the kit and must not import the
core, as :class:`~deepflash_client.options.Options` does for what goes the other way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ResultSummary:
    """JSON-ready facts of one correction.

    Attributes:
        faces: the corrected faces as ``Face.to_dict()`` gives them (``box``, ``crop``, ``landmarks``); one
            pseudo-face covering the frame in whole-image mode.
        timings: seconds per stage.
        warnings: one-line notes worth showing to the user.
    """

    faces: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_fields(self) -> dict[str, Any]:
        """The reply header's keys for this summary (one per attribute, same names)."""
        return asdict(self)

    @classmethod
    def from_fields(cls, header: dict[str, Any]) -> ResultSummary:
        """The summary in a reply's header fields; a key an older server left out takes its default."""
        return cls(faces=list(header.get("faces", [])), timings=dict(header.get("timings", {})),
                   warnings=list(header.get("warnings", [])))
