"""Hostile input: thousands of generated malformed requests, each answered with an error, and the server
still answering ``ping`` after every batch; messages beyond the size limit are dropped unread."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from deepflash_client import protocol
from deepflash_client.errors import ServerError
from deepflash_client.options import LOOK_AS_SHOT, LOOK_NAMES, Options
from deepflash_client.zmq_client import DeepFlashClient
from deepflash_core.look.presets import preset_names
from server_helpers import running_server, server_environment, wait_until_ready

MAX_SIDE = 512
MAX_PIXELS = 65_536
BATCH = 50
BATCHES = 205  # 10,250 malformed requests
ERROR_CODES = {protocol.E_BAD_REQUEST, protocol.E_BAD_VERSION, protocol.E_UNKNOWN_OP, protocol.E_TOO_LARGE,
               protocol.E_INVALID_OPTION, protocol.E_BUSY}

# --- what a malformed request looks like -------------------------------------------------------------------

junk = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=12),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))
BAD_VALUES = {
    "v": st.one_of(junk.filter(lambda value: not (type(value) is int and value == 1)),
                   st.integers().filter(lambda value: value != 1)),
    "op": st.one_of(junk, st.text(max_size=10)).filter(lambda value: value not in protocol.OPS),
    "id": st.one_of(st.just(""), st.text(min_size=65, max_size=80), st.integers(), st.none(), st.booleans()),
    "width": st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_SIDE + 1), st.floats(), junk.filter(
        lambda value: type(value) is not int)),
    "height": st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_SIDE + 1, max_value=10**40),
                        st.just(2**63)),
    "channels": st.one_of(st.integers().filter(lambda value: value not in protocol.CHANNELS), st.just(3.0),
                          st.just(True), st.text(max_size=3)),
    "dtype": st.one_of(st.sampled_from(["uint8", "float64", "f16", "U8", "i32", ""]), st.integers(), st.none()),
    "strength": st.one_of(st.floats(min_value=1.0001, allow_infinity=False), st.floats(max_value=-0.0001,
                          allow_infinity=False), st.text(max_size=4), st.none(), st.booleans()),
    "whole_image": st.one_of(st.integers(), st.text(max_size=4), st.none()),
    # Looks: a vector of the wrong length, numbers out of every range (huge integers too), a name of no preset.
    "look": st.one_of(st.lists(st.floats(allow_nan=False), max_size=len(LOOK_NAMES) - 1),
                      st.lists(st.one_of(st.floats(min_value=1000, allow_infinity=False), st.integers(min_value=10**20)),
                               min_size=len(LOOK_NAMES), max_size=len(LOOK_NAMES)),
                      st.text(max_size=12).filter(lambda name: name not in {*preset_names(), LOOK_AS_SHOT}),
                      st.integers(), st.booleans(), st.dictionaries(st.text(max_size=4), st.floats(), max_size=2)),
}


@st.composite
def valid_process(draw) -> tuple[dict, int]:
    """A valid process header and the size of its pixel frame (the starting point for one defect)."""
    width = draw(st.integers(1, 64))
    height = draw(st.integers(1, 64))
    channels = draw(st.sampled_from(protocol.CHANNELS))
    dtype = draw(st.sampled_from(sorted(protocol.DTYPE_SIZES)))
    header = {"v": 1, "op": "process", "id": draw(st.text(min_size=1, max_size=8)), "width": width,
              "height": height, "channels": channels, "dtype": dtype, "strength": 0.5, "whole_image": True}
    return header, protocol.ImageSpec(width, height, channels, dtype).frame_bytes


def encode(header: dict) -> bytes:
    return json.dumps(header).encode()


@st.composite
def bad_value(draw) -> list[bytes]:
    header, size = draw(valid_process())
    key = draw(st.sampled_from(sorted(BAD_VALUES)))
    header[key] = draw(BAD_VALUES[key])
    return [json.dumps(header, allow_nan=True).encode(), bytes(size)]


@st.composite
def missing_or_extra_key(draw) -> list[bytes]:
    header, size = draw(valid_process())
    if draw(st.booleans()):
        del header[draw(st.sampled_from(["v", "op", "id", "width", "height", "channels", "dtype"]))]
    else:
        header[draw(st.text(min_size=1, max_size=8).filter(lambda key: key not in header))] = draw(junk)
    return [encode(header), bytes(size)]


@st.composite
def wrong_frame_size(draw) -> list[bytes]:
    header, size = draw(valid_process())
    delta = draw(st.integers(-size, 4096).filter(lambda delta: delta != 0))
    return [encode(header), draw(st.binary(min_size=size + delta, max_size=size + delta))
            if size + delta < 256 else bytes(size + delta)]


@st.composite
def huge_claimed_image(draw) -> list[bytes]:
    header, _ = draw(valid_process())
    header["width"] = draw(st.integers(MAX_PIXELS // MAX_SIDE + 1, MAX_SIDE))
    header["height"] = draw(st.integers(MAX_PIXELS // header["width"] + 1, MAX_SIDE))
    return [encode(header), draw(st.binary(max_size=64))]


@st.composite
def wrong_frame_count(draw) -> list[bytes]:
    header, size = draw(valid_process())
    if draw(st.booleans()):
        return [encode(header)] + [bytes(size)] * draw(st.sampled_from([0, 2, 3]))
    simple = {"v": 1, "op": draw(st.sampled_from(["ping", "info"])), "id": "x"}
    return [encode(simple)] + [draw(st.binary(max_size=32)) for _ in range(draw(st.integers(1, 3)))]


@st.composite
def broken_json(draw) -> list[bytes]:
    header, size = draw(valid_process())
    raw = encode(header)
    cut = draw(st.integers(0, len(raw) - 1))  # a strict prefix of an object never parses as one
    tail = draw(st.sampled_from([b"", b",", b"\xff", b"\x00", b"NaN", b"]]", b"}}"]))
    return [raw[:cut] + tail, bytes(size)]


@st.composite
def non_finite_pixels(draw) -> list[bytes]:
    header, _ = draw(valid_process())
    header["dtype"] = "f32"
    pixels = np.full((header["height"], header["width"], header["channels"]), 0.5, np.float32)
    pixels.flat[draw(st.integers(0, pixels.size - 1))] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    return [encode(header), pixels.tobytes()]


random_frames = st.lists(st.binary(max_size=200), max_size=4)
malformed = st.one_of(bad_value(), missing_or_extra_key(), wrong_frame_size(), huge_claimed_image(),
                      wrong_frame_count(), broken_json(), non_finite_pixels(), random_frames)


# --- the tests ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_weights):
    with server_environment(tmp_path_factory.mktemp("state")):
        with running_server(tiny_weights, "--max-pixels", str(MAX_PIXELS), "--max-side", str(MAX_SIDE)) as (
                address, _pid):
            with DeepFlashClient(address, timeout_s=60, retries=0) as client:
                wait_until_ready(client)
            yield address


@pytest.mark.slow
def test_every_malformed_request_gets_an_error_and_ping_still_works(server):
    sent = {"requests": 0}
    codes: dict[str, int] = {}
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(server)
    pinger = DeepFlashClient(server, timeout_s=10, retries=0)

    @settings(max_examples=BATCHES, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.lists(malformed, min_size=BATCH, max_size=BATCH))
    def batch(messages: list[list[bytes]]) -> None:
        for frames in messages:
            dealer.send_multipart([b"", *frames])  # the empty frame is the REQ-style delimiter
        sent["requests"] += len(messages)
        for _ in messages:
            assert dealer.poll(30_000), "a malformed request got no reply"
            reply = protocol.parse_reply(dealer.recv_multipart()[1:])
            assert reply.status == "error", reply
            assert reply.fields["code"] in ERROR_CODES and reply.fields["message"] and reply.fields["log"]
            codes[reply.fields["code"]] = codes.get(reply.fields["code"], 0) + 1
        assert pinger.ping()["state"] == "ready"

    try:
        batch()
    finally:
        dealer.close()
    print(f"\nfuzz: {sent['requests']} malformed requests, all answered with an error: {codes}")
    assert sent["requests"] >= 10_000
    assert sum(codes.values()) == sent["requests"]


def test_a_message_beyond_the_size_limit_is_dropped_and_the_server_carries_on(server):
    limit = protocol.Limits(MAX_PIXELS, MAX_SIDE).max_message_bytes
    header = protocol.encode_request("process", "big", protocol.ImageSpec(MAX_SIDE, MAX_SIDE, 4, "f32"))
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(server)
    try:
        dealer.send_multipart([b"", header, bytes(limit + 1)], copy=False)
        assert not dealer.poll(1500), "the server read a message beyond MAXMSGSIZE"
    finally:
        dealer.close()
    client = DeepFlashClient(server, timeout_s=10, retries=0)
    assert client.ping()["state"] == "ready"
    too_big = np.zeros((MAX_SIDE, MAX_SIDE, 3), np.uint8)  # fits the socket limit, not the pixel limit
    with pytest.raises(ServerError) as caught:
        client.process(too_big, MAX_SIDE, MAX_SIDE)
    assert caught.value.code == "too_large" and "MP" in str(caught.value)


@pytest.mark.parametrize("strength", [10**400, -10**400, 2**1024], ids=["1e400", "-1e400", "2^1024"])
def test_a_strength_too_large_for_a_float_is_refused_and_the_server_answers_as_before(server, strength):
    image = np.random.default_rng(7).integers(0, 256, (40, 32, 3), np.uint8)
    client = DeepFlashClient(server, timeout_s=60, retries=0)
    before = client.process(image, 32, 40, options=Options(strength=0.5, whole_image=True))
    header = json.loads(protocol.encode_request("process", "huge", protocol.ImageSpec(32, 40, 3, "u8")))
    header["strength"] = strength
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(server)
    try:
        dealer.send_multipart([b"", json.dumps(header).encode(), image.tobytes()])
        assert dealer.poll(30_000), "a request with a huge strength got no reply"
        reply = protocol.parse_reply(dealer.recv_multipart()[1:])
    finally:
        dealer.close()
    assert reply.status == "error" and reply.fields["code"] == protocol.E_INVALID_OPTION
    assert "strength" in reply.fields["message"]
    assert client.ping()["state"] == "ready"
    after = client.process(image, 32, 40, options=Options(strength=0.5, whole_image=True))
    assert after.pixels == before.pixels  # bit-identical
