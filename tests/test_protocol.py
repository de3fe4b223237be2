"""The wire protocol: header schema, limits, frame sizes, stdio framing, and what the module imports."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from deepflash_client import protocol, state_files, stdio_frames
from deepflash_client.options import LOOK_NAMES, Options
from deepflash_client.protocol import ImageSpec, Limits, ProtocolError

LIMITS = Limits(max_pixels=1_000_000, max_side=2000)


def process_frames(**overrides):
    header = {"v": 1, "op": "process", "id": "abc", "width": 4, "height": 3, "channels": 3, "dtype": "u8",
              "strength": 1.0, "whole_image": False}
    header.update(overrides)
    header = {key: value for key, value in header.items() if value is not ...}
    spec_bytes = 4 * 3 * 3
    return [json.dumps(header).encode(), b"\0" * spec_bytes]


def test_encoded_process_request_parses_back():
    spec = ImageSpec(width=5, height=7, channels=4, dtype="u16")
    header = protocol.encode_request("process", "id-1", spec, Options(strength=0.5, whole_image=True))
    request = protocol.parse_request([header, bytes(spec.frame_bytes)], LIMITS)
    assert request.op == "process" and request.request_id == "id-1"
    assert request.image == spec
    assert request.options == Options(strength=0.5, whole_image=True)


@pytest.mark.parametrize("op", ["ping", "info"])
def test_ping_and_info_take_one_frame(op):
    header = protocol.encode_request(op, "x")
    assert protocol.parse_request([header], LIMITS).op == op
    with pytest.raises(ProtocolError, match="1 frame"):
        protocol.parse_request([header, b"extra"], LIMITS)


@pytest.mark.parametrize(("overrides", "code", "words"), [
    ({"v": 2}, "bad_version", "version"),
    ({"v": True}, "bad_version", "version"),
    ({"op": "format_disk"}, "unknown_op", "Unknown op"),
    ({"width": 0}, "bad_request", "width"),
    ({"width": 4.0}, "bad_request", "integer"),
    ({"width": True}, "bad_request", "integer"),
    ({"height": 10**12}, "too_large", "height"),
    ({"channels": 2}, "bad_request", "channels"),
    ({"dtype": "f64"}, "bad_request", "dtype"),
    ({"strength": 3.5}, "invalid_option", "strength"),
    ({"strength": "1"}, "invalid_option", "strength"),
    ({"whole_image": 1}, "invalid_option", "whole_image"),
    ({"background": "blur"}, "invalid_option", "background"),
    ({"red_eye": "yes"}, "invalid_option", "red_eye"),
    ({"with_matte": None}, "invalid_option", "with_matte"),
    ({"colour": "red"}, "bad_request", "Unknown header keys"),
    ({"dtype": ...}, "bad_request", "dtype"),
    ({"id": ...}, "bad_request", "'id'"),
    ({"id": "x" * 65}, "bad_request", "'id'"),
])
def test_bad_headers_are_refused_with_a_code(overrides, code, words):
    with pytest.raises(ProtocolError, match=words) as caught:
        protocol.parse_request(process_frames(**overrides), LIMITS)
    assert caught.value.code == code


def test_request_id_is_kept_on_errors_after_the_id_is_known():
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_request(process_frames(id="mine", channels=9), LIMITS)
    assert caught.value.request_id == "mine"


def test_pixel_limit_is_checked_from_the_header_alone():
    frames = process_frames(width=2000, height=2000)  # 4 MP claimed, 36 bytes sent
    with pytest.raises(ProtocolError, match="MP") as caught:
        protocol.parse_request(frames, LIMITS)
    assert caught.value.code == "too_large"


@pytest.mark.parametrize("delta", [-1, 1, -36])
def test_frame_size_must_match_the_header(delta):
    header, pixels = process_frames()
    with pytest.raises(ProtocolError, match="needs 36"):
        protocol.parse_request([header, b"\0" * (len(pixels) + delta)], LIMITS)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[]", b"null", b'{"v": NaN}', b"1" * 9000,
                                 b"[" * 4000 + b"]" * 4000])
def test_unreadable_headers_are_bad_requests(raw):
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_request([raw], LIMITS)
    assert caught.value.code == "bad_request"


@pytest.mark.parametrize(("value", "written"), [(float("nan"), "NaN"), (float("inf"), "Infinity"),
                                                (float("-inf"), "-Infinity")])
def test_a_non_finite_strength_in_a_real_header_is_refused_by_name(value, written):
    frames = process_frames(strength=value)
    assert f'"strength": {written}'.encode() in frames[0]  # what a careless JSON writer sends
    with pytest.raises(ProtocolError, match=f"holds {written}, which is not a number") as caught:
        protocol.parse_request(frames, LIMITS)
    assert caught.value.code == "bad_request"


def test_nan_strength_is_refused_even_when_written_as_a_big_number():
    with pytest.raises(ProtocolError, match="strength"):
        protocol.parse_request([process_frames()[0].replace(b'"strength": 1.0', b'"strength": 1e999'),
                                b"\0" * 36], LIMITS)


def test_error_reply_is_one_line_and_parses():
    raw = protocol.encode_error("no_face", "No face\nfound.", "process", "r1", "/tmp/x.log")
    reply = protocol.parse_reply([raw])
    assert reply.status == "error" and reply.request_id == "r1"
    assert reply.fields == {"code": "no_face", "message": "No face found.", "log": "/tmp/x.log"}


def test_reply_from_another_protocol_version_is_refused():
    with pytest.raises(ProtocolError, match="version"):
        protocol.parse_reply([json.dumps({"v": 9, "status": "ok"}).encode()])


def test_message_limit_covers_the_largest_valid_frame():
    limits = Limits(max_pixels=1000, max_side=100)
    assert limits.max_frame_bytes == ImageSpec(1000, 1, 4, "f32").frame_bytes
    assert limits.max_message_bytes > limits.max_frame_bytes
    assert Limits.from_dict(limits.to_dict()) == limits


def test_stdio_frames_round_trip_and_refuse_oversized_frames():
    stream = io.BytesIO()
    stdio_frames.write_frames(stream, [b"head", memoryview(bytearray(b"pixels"))])
    stream.seek(0)
    assert stdio_frames.read_frames(stream, 100) == [b"head", b"pixels"]
    stream.seek(0)
    with pytest.raises(ProtocolError, match="exceeds"):
        stdio_frames.read_frames(stream, 5)
    with pytest.raises(ProtocolError, match="ended"):
        stdio_frames.read_frames(io.BytesIO(stream.getvalue()[:-2]), 100)


def test_state_files_are_per_port(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPFLASH_STATE_DIR", str(tmp_path))
    assert state_files.log_path("tcp://127.0.0.1:5557") == tmp_path / "server-5557.log"
    assert state_files.pid_path("tcp://127.0.0.1:6000") == tmp_path / "server-6000.pid"
    assert "/" not in state_files.port_of("ipc:///tmp/deep/flash.sock")


@pytest.mark.parametrize("platform, environ, state", [
    ("linux", {"HOME": "/h"}, "/h/.local/state/deepflash"),
    ("linux", {"HOME": "/h", "XDG_STATE_HOME": ""}, "/h/.local/state/deepflash"),  # empty counts as unset
    ("linux", {"HOME": "/h", "XDG_STATE_HOME": "/s"}, "/s/deepflash"),
    ("darwin", {"HOME": "/h"}, "/h/Library/Logs/deepflash"),
    ("win32", {"USERPROFILE": "/u"}, "/u/AppData/Local/deepflash"),
    ("win32", {"USERPROFILE": "/u", "LOCALAPPDATA": "/l"}, "/l/deepflash"),
])
def test_the_servers_state_folder_per_os(monkeypatch, platform, environ, state):
    monkeypatch.delenv("DEEPFLASH_STATE_DIR", raising=False)
    for name in ("HOME", "USERPROFILE", "LOCALAPPDATA", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "platform", platform)
    assert state_files.state_dir() == Path(state)


def test_vendored_modules_import_neither_numpy_nor_torch():
    import deepflash_client

    kit = Path(deepflash_client.__file__).parent
    modules = ", ".join(f"deepflash_client.{path.stem}" for path in sorted(kit.glob("*.py")) if path.stem != "__init__")
    code = f"import sys; import {modules}; print(sorted(m for m in ('numpy', 'torch') if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_client_module_works_without_pyzmq():
    code = ("import sys; sys.modules['zmq'] = None\n"
            "from deepflash_client import zmq_client\n"
            "from deepflash_client.connect import connect\n"
            "c = connect(python=sys.executable)\n"
            "print(type(c).__name__)\n"
            "try:\n    zmq_client.DeepFlashClient()\nexcept zmq_client.ServerUnavailableError as e:\n    print('refused', e)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.splitlines()[0] == "StdioClient"
    assert "pyzmq is not installed" in output


# --- looks on the wire ------------------------------------------------------------------------------------------

def test_a_look_vector_and_a_preset_name_cross_the_wire_unchanged():
    spec = ImageSpec(width=4, height=3, channels=3, dtype="u8")
    vector = tuple(float(index) / 100 for index in range(len(LOOK_NAMES)))
    for look in ("neutral-studio", vector, (None,) * len(LOOK_NAMES)):
        header = protocol.encode_request("process", "id", spec, Options(look=look))
        assert protocol.parse_request([header, bytes(36)], LIMITS).options.look == look


def test_a_look_request_carries_a_reference_image_and_no_options():
    spec = ImageSpec(width=4, height=3, channels=4, dtype="f32")
    header = protocol.encode_request("look", "ref", spec, Options(strength=0.2))
    assert b"strength" not in header
    request = protocol.parse_request([header, bytes(spec.frame_bytes)], LIMITS)
    assert request.op == "look" and request.image == spec
    with pytest.raises(ProtocolError, match="Unknown header keys for 'look': look"):
        protocol.parse_request([header.replace(b"}", b',"look":"warm-studio"}'), bytes(spec.frame_bytes)], LIMITS)
    with pytest.raises(ProtocolError, match="2 frame"):
        protocol.parse_request([header], LIMITS)


def vector_with(index: int, value: object) -> list:
    vector: list = [None] * len(LOOK_NAMES)
    vector[index] = value
    return vector


@pytest.mark.parametrize(("look", "words"), [
    (vector_with(0, 1e308 * 10), "'look' holds Infinity, which is not a number"),
    (vector_with(5, float("nan")), "'look' holds NaN, which is not a number"),
    (vector_with(8, -float("inf")), "'look' holds -Infinity, which is not a number"),
])
def test_a_non_finite_look_number_is_refused_by_the_key_that_holds_it(look, words):
    frames = process_frames(look=look)
    with pytest.raises(ProtocolError, match=words) as caught:
        protocol.parse_request(frames, LIMITS)
    assert caught.value.code == "bad_request" and "\n" not in str(caught.value)


@pytest.mark.parametrize(("look", "words"), [
    (vector_with(0, 10**4000), r"look's white_lightness must be a number between 0 and 100 \(L\*\) or null, got an "
                               r"integer of about 4000 digits"),
    (vector_with(2, 41), r"look's white_b must be a number between -40 and 40"),
    (vector_with(3, "70"), r"look's black_lightness must be a number"),
    (vector_with(4, True), r"look's face_lightness must be a number"),
    (vector_with(6, [1.0]), r"look's face_hue must be a number"),
    ([50.0] * (len(LOOK_NAMES) - 1), rf"look must be a look's name or a list of {len(LOOK_NAMES)} numbers"),
    ([50.0] * (len(LOOK_NAMES) + 1), rf"look must be a look's name or a list of {len(LOOK_NAMES)} numbers"),
    ({"white_a": 1}, r"look must be a look's name or a list"),
    ("../../etc/passwd", r"look must be a look's name \(lower-case letters, digits, '-'\)"),
    ("", r"look must be a look's name"),
    (12, r"look must be a look's name or a list"),
])
def test_hostile_looks_are_refused_by_name_in_one_short_line(look, words):
    with pytest.raises(ProtocolError, match=words) as caught:
        protocol.parse_request(process_frames(look=look), LIMITS)
    assert caught.value.code == "invalid_option"
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300
