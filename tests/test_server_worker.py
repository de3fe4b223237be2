"""The server's worker turns a validated request into reply frames through the one Corrector interface, and a
client turns them back into the same :class:`Result`."""

from __future__ import annotations

import threading
import time
from dataclasses import fields
from types import SimpleNamespace

import numpy as np

from deepflash_client import protocol
from deepflash_client.client_base import BaseClient
from deepflash_client.options import Options
from deepflash_client.summary import ResultSummary
from deepflash_core.corrector import ServerCorrector
from deepflash_core.detection.faces import Face
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


def sample_result(pixels: np.ndarray) -> dict:
    """A value for every field of a :class:`Result` of ``pixels`` (numbers a reply carries exactly)."""
    matte = np.zeros(pixels.shape[:2], np.uint8)
    matte[1:, 2:] = 200
    face = Face(box=(1, 0, 5, 4), landmarks={"left_eye": [(1.25, 2.5), (2.0, 2.75)]}, crop=(-1, -2, 7, 6))
    return {"pixels": 255 - pixels, "faces": [face], "timings": {"network": 0.125, "blend": 0.5},
            "warnings": ["the matte is rough"], "matte": matte}


class Loopback(BaseClient):
    """A client whose requests go straight to the server's worker, which corrects with a fixed result."""

    address = "inproc://worker"
    timeout_s = 5.0
    _limits = protocol.Limits()

    def __init__(self, result: Result) -> None:
        self.holder = PipelineHolder()
        self.holder.corrector = SimpleNamespace(correct=lambda pixels, options: result)
        self.holder.ready.set()
        self.headers: list[dict] = []

    def _call(self, frames, timeout_s, fail_fast=False):
        request = protocol.parse_request(frames, self._limits)
        job = QueuedRequest([], request, SimpleNamespace(buffer=bytes(frames[1])), time.monotonic())
        reply = protocol.parse_reply([bytes(frame) for frame in _process(job, self.holder, threading.Lock())])
        self.headers.append(reply.fields)
        return reply


def test_every_field_of_a_result_crosses_the_wire_and_comes_back():
    pixels = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    sent = sample_result(pixels)
    assert set(sent) == {item.name for item in fields(Result)}, (
        "a Result field has no sample here: carry it in ResultSummary (or a frame) and add it to sample_result")
    client = Loopback(Result(**sent))
    corrector = ServerCorrector(client.address)
    corrector._local.client = client
    received = corrector.correct(pixels, Options(with_matte=True))
    for name, value in sent.items():
        got = getattr(received, name)
        if isinstance(value, np.ndarray):
            assert got is not None and np.array_equal(got, value), name
        elif isinstance(value, dict):  # the server adds its own timings (queue, decode, ...)
            assert value.items() <= got.items(), name
        else:
            assert got == value, name


def test_replies_keep_the_header_keys_older_plug_ins_read_and_old_replies_still_parse():
    pixels = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    client = Loopback(Result(**sample_result(pixels)))
    client.process_array(pixels, Options(with_matte=True))
    header = client.headers[0]
    assert {"width", "height", "channels", "dtype", "faces", "timings", "warnings", "matte"} <= set(header)
    assert ResultSummary.from_fields(header).to_fields() == {key: header[key] for key in ("faces", "timings", "warnings")}
    assert ResultSummary.from_fields({"width": 7, "height": 5}) == ResultSummary()  # a server that sent no summary

