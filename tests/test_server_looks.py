"""Looks through a real server: a reference portrait described once and kept by its pixels' hash, bad references
and hostile look values refused in one line, and the server answering as before after each of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import zmq
from PIL import Image

from deepflash_client import protocol
from deepflash_client.errors import ServerError
from deepflash_client.options import LOOK_NAMES, Options
from deepflash_client.zmq_client import DeepFlashClient
from deepflash_core.look.reference import describe_reference
from server_helpers import running_server, server_environment, wait_until_ready
from portraits import EXAMPLES

REFERENCE = EXAMPLES / "congress_A000055.jpg"


def rgb(path: Path) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))


@pytest.fixture(scope="module")
def client(tmp_path_factory, tiny_weights) -> Iterator[DeepFlashClient]:
    with server_environment(tmp_path_factory.mktemp("state")):
        with running_server(tiny_weights) as (address, _pid):
            with DeepFlashClient(address, timeout_s=120, retries=0) as client:
                wait_until_ready(client)
                yield client


def describe(client: DeepFlashClient, pixels: np.ndarray) -> tuple[float, ...]:
    height, width, channels = pixels.shape
    return client.describe_look(pixels, width, height, channels, "u8")


def test_a_reference_is_described_as_in_process_and_then_found_by_its_hash(client):
    pixels = rgb(REFERENCE)
    before = client.info()["references_described"]
    look = describe(client, pixels)
    assert look == pytest.approx(describe_reference(pixels).as_vector(), abs=1e-6)
    again = describe(client, pixels.copy())
    assert again == look
    assert client.info()["references_described"] == before + 1  # the second answer came from the cache
    changed = pixels.copy()
    changed[0, 0, 0] ^= 1  # one bit of another photo: described anew
    describe(client, changed)
    assert client.info()["references_described"] == before + 2


def test_a_photo_corrected_toward_a_reference_differs_from_the_default_look(client, portrait_path):
    photo = rgb(portrait_path)
    look = describe(client, rgb(REFERENCE))
    toward_reference, _ = client.process_array(photo, Options(look=look))
    default, _ = client.process_array(photo, Options())
    as_shot, _ = client.process_array(photo, Options(look="as-shot"))
    assert toward_reference.shape == photo.shape
    assert not np.array_equal(toward_reference, default) and not np.array_equal(toward_reference, as_shot)


def greyscale(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)


@pytest.mark.parametrize(("make", "words"), [
    (lambda pixels: np.full((240, 240, 3), 128, np.uint8), "The reference has no face"),
    (greyscale, "The reference is greyscale"),
    (lambda pixels: np.ascontiguousarray(pixels[::4, ::4]), "The reference's face is"),
])
def test_a_bad_reference_is_refused_in_one_line_and_the_server_goes_on(client, make, words):
    with pytest.raises(ServerError, match=words) as caught:
        describe(client, make(rgb(REFERENCE)))
    assert caught.value.code == protocol.E_BAD_REFERENCE and "\n" not in str(caught.value)
    assert client.ping()["state"] == "ready"


def raw_process(client: DeepFlashClient, look: object) -> dict:
    """A process request written by hand (a careless or hostile client), its reply's header."""
    header = {"v": 1, "op": "process", "id": "hostile", "width": 2, "height": 2, "channels": 3, "dtype": "u8",
              "look": look}
    socket = zmq.Context.instance().socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RCVTIMEO, 60_000)
    socket.connect(client.address)
    try:
        socket.send_multipart([json.dumps(header, allow_nan=True).encode(), bytes(12)])
        return json.loads(socket.recv())
    finally:
        socket.close()


def with_value(value: object) -> list:
    return [value] + [None] * (len(LOOK_NAMES) - 1)


@pytest.mark.parametrize(("look", "code", "words"), [
    (with_value(float("nan")), "bad_request", "'look' holds NaN"),
    (with_value(float("inf")), "bad_request", "'look' holds Infinity"),
    (with_value(10**400), "invalid_option", "look's white_lightness must be a number between 0 and 100"),
    ([1.0, 2.0], "invalid_option", f"a list of {len(LOOK_NAMES)} numbers"),
    ("golden-hour", "invalid_option", "Unknown look 'golden-hour'; the looks are"),
])
def test_hostile_look_values_are_refused_by_name_and_the_server_answers_as_before(client, look, code, words):
    reply = raw_process(client, look)
    assert reply["status"] == "error" and reply["code"] == code, reply
    assert words in reply["message"] and "\n" not in reply["message"]
    assert client.ping()["state"] == "ready"


def test_process_through_the_server_takes_a_reference_portrait_as_the_look(client, tiny_weights, portrait_path,
                                                                              tmp_path):
    from test_cli import run

    served, local = tmp_path / "served.png", tmp_path / "local.png"
    result = run("process", portrait_path, "-o", served, "--server", client.address, "--look", REFERENCE)
    assert result.exit_code == 0, result.output
    result = run("process", portrait_path, "-o", local, "--weights", tiny_weights, "--device", "cpu",
                 "--look", REFERENCE)
    assert result.exit_code == 0, result.output
    assert np.array_equal(rgb(served), rgb(local))
    default = tmp_path / "default.png"
    assert run("process", portrait_path, "-o", default, "--server", client.address).exit_code == 0
    assert not np.array_equal(rgb(served), rgb(default))


def test_process_through_the_server_refuses_an_unknown_look_before_sending_anything(client, portrait_path, tmp_path):
    from test_cli import error_lines, run

    before = client.info()["requests"]["requests"]
    result = run("process", portrait_path, "-o", tmp_path / "out.png", "--server", client.address, "--look", "sepia")
    assert result.exit_code == 2 and "Unknown look 'sepia'; the looks are" in result.output
    assert not (tmp_path / "out.png").exists() and not error_lines(result)
    assert client.info()["requests"]["requests"] == before + 1  # only this info's own request


def test_an_editor_without_pyzmq_gets_the_same_look_and_refusals_through_the_stdio_helper(client):
    import sys

    from deepflash_client.stdio_client import StdioClient

    helper = StdioClient(python=sys.executable, address=client.address, timeout_s=120, auto_start=False)
    pixels = rgb(REFERENCE)
    assert describe(helper, pixels) == describe(client, pixels)
    with pytest.raises(ServerError, match="The reference is greyscale") as caught:
        describe(helper, greyscale(pixels))
    assert caught.value.code == protocol.E_BAD_REFERENCE
