"""The server's worker turns a validated request into reply frames through the one Corrector interface."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np

from deepflash_client import protocol
from deepflash_client.options import Options
from deepflash_core.result import Result
from deepflash_server.worker import QueuedRequest, PipelineHolder, _process


class RecordingCorrector:
    """Inverts the pixels and, when asked, returns a matte that marks the left half."""

    description = "in this test"

    def __init__(self) -> None:
        self.options: list[Options] = []

    def correct(self, pixels, options, progress=None):
        self.options.append(options)
        matte = np.zeros(pixels.shape[:2], np.uint8)
        matte[:, : pixels.shape[1] // 2] = 255
        return Result(255 - pixels, [], {"network": 0.0}, [], matte if options.with_matte else None)


def run(options: Options) -> tuple[protocol.Reply, RecordingCorrector]:
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    header = protocol.encode_request(protocol.OP_PROCESS, "r1", protocol.ImageSpec(6, 4, 3, "u8"), options)
    frame = SimpleNamespace(buffer=pixels.tobytes())
    request = protocol.parse_request([header, frame.buffer], protocol.Limits())
    holder = PipelineHolder()
    holder.corrector = RecordingCorrector()
    holder.ready.set()
    frames = _process(QueuedRequest([], request, frame, time.monotonic()), holder, threading.Lock())
    reply = protocol.parse_reply([bytes(frame) for frame in frames])
    assert bytes(reply.pixels) == (255 - pixels).tobytes()
    return reply, holder.corrector


def test_the_requests_options_reach_the_corrector_unchanged():
    options = Options(strength=0.25, whole_image=True, background="lift", red_eye=False)
    _, corrector = run(options)
    assert corrector.options == [options]


def test_the_matte_comes_back_as_a_third_frame_only_when_asked_for():
    asked, _ = run(Options(with_matte=True))
    assert asked.fields["matte"] is True
    matte = np.frombuffer(asked.matte, np.uint8).reshape(4, 6)
    assert (matte[:, :3] == 255).all() and (matte[:, 3:] == 0).all()
    plain, _ = run(Options())
    assert plain.matte is None and "matte" not in plain.fields
