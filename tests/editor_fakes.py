"""A scriptable server client and a job context, shared by the editor-side test files."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from deepflash_client.client_base import ProcessReply
from deepflash_client.options import Options
from deepflash_client.protocol import ImageSpec
from deepflash_client.summary import ResultSummary
from deepflash_editor.job import Context, CorrectionJob

LOG_PATH = Path("/tmp/deepflash-test/gimp-plugin.log")
REFERENCE_LOOK = (92.0, 0.5, 3.0, 12.0, 58.0, 24.0, 55.0, 11.0, 0.4, 0.1, 0.01, 0.0)
"""What the fake server answers for any reference: a look's 12 numbers, each inside its range."""


# --- a scriptable server client ----------------------------------------------------------------------

@dataclass
class FakeClient:
    """Answers ``process`` by inverting 8-bit samples (any change the test can see), or raises; sends a
    matte (a ramp from 10, one byte per pixel) when the options ask for one."""

    failures: list[Exception] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)
    faces: int = 1
    closed: int = 0
    described: list[dict] = field(default_factory=list)
    look_failures: list[Exception] = field(default_factory=list)

    def process(self, pixels, *, width, height, channels, dtype, options):
        self.calls.append(dict(width=width, height=height, channels=channels, dtype=dtype, options=options,
                               size=len(pixels)))
        if self.failures:
            raise self.failures.pop(0)
        matte = bytes((10 + index) % 256 for index in range(width * height)) if options.with_matte else None
        summary = ResultSummary(faces=[{"box": [0, 0, 1, 1]}] * self.faces, timings={"total": 0.01})
        return ProcessReply(bytes(255 - b for b in pixels), ImageSpec(width, height, channels, dtype), summary, matte)

    def describe_look(self, pixels, width, height, channels, dtype):
        self.described.append(dict(pixels=bytes(pixels), width=width, height=height, channels=channels, dtype=dtype))
        if self.look_failures:
            raise self.look_failures.pop(0)
        return REFERENCE_LOOK

    def close(self):
        self.closed += 1


def make_context(client: FakeClient, *, can_start=True) -> Context:
    return Context(address="tcp://127.0.0.1:5557", connect=lambda address: client, can_start=can_start,
                   log=logging.getLogger("deepflash.test"), log_path=LOG_PATH,
                   whole_image_hint="choose “Whole image”.")


def small_job(**options) -> CorrectionJob:
    return CorrectionJob(bytes(range(24)), width=2, height=3, channels=4, dtype="u8", options=Options(**options))
