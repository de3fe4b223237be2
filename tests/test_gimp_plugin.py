"""The GIMP plug-in's logic and the helpers both plug-ins share, with small fakes of GIMP's API.

The real GIMP runs the same code in tests/editors (``make test-editors``).
"""

from __future__ import annotations

import json
import logging
import py_compile
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "gimp_plugin"), str(REPO / "gimp_plugin" / "deepflash")]

import gimp_filter  # noqa: E402
from deepflash_common import messages  # noqa: E402
from deepflash_common.connection import client_factory, server_starter  # noqa: E402
from deepflash_common.job import Context, Job, Outcome, call_with_heartbeat, run_job  # noqa: E402
from deepflash_common.paths import plugin_log_path, user_config_dir  # noqa: E402
from deepflash_common.settings import INSTALL_RECORD, Setting, Settings  # noqa: E402
from deepflash_core.client import ProcessReply  # noqa: E402
from deepflash_core.errors import ServerError, ServerUnavailableError  # noqa: E402

LOG_PATH = Path("/tmp/deepflash-test/gimp-plugin.log")


# --- a scriptable server client ----------------------------------------------------------------------

@dataclass
class FakeClient:
    """Answers ``process`` by inverting 8-bit samples (any change the test can see), or raises."""

    failures: list[Exception] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)
    faces: int = 1
    closed: int = 0

    def process(self, pixels, *, width, height, channels, dtype, strength, whole_image):
        self.calls.append(dict(width=width, height=height, channels=channels, dtype=dtype, strength=strength,
                               whole_image=whole_image, size=len(pixels)))
        if self.failures:
            raise self.failures.pop(0)
        return ProcessReply(bytes(255 - b for b in pixels), width, height, channels, dtype,
                            faces=[{"box": [0, 0, 1, 1]}] * self.faces, timings={"total": 0.01})

    def close(self):
        self.closed += 1


def make_context(client: FakeClient, *, start=None, may_start=lambda: True) -> Context:
    return Context(address="tcp://127.0.0.1:5557", connect=lambda address: client, start_server=start,
                   may_start=may_start, log=logging.getLogger("deepflash.test"), log_path=LOG_PATH,
                   whole_image_hint="choose “Whole image”.")


def small_job(**options) -> Job:
    return Job(bytes(range(24)), width=2, height=3, channels=4, dtype="u8", **options)


# --- the job: every outcome a user can meet ----------------------------------------------------------

def test_job_success_returns_the_servers_pixels_and_options():
    client = FakeClient()
    outcome = run_job(small_job(strength=0.5, whole_image=True), make_context(client), "New")
    assert outcome.ok and outcome.code == "ok"
    assert outcome.pixels == bytes(255 - b for b in range(24))
    assert client.calls == [dict(width=2, height=3, channels=4, dtype="u8", strength=0.5, whole_image=True,
                                 size=24)]
    assert "whole image" in outcome.message and "“New”" in outcome.message
    assert client.closed == 1


def test_server_down_without_permission_names_address_and_log():
    client = FakeClient(failures=[ServerUnavailableError("nothing at the address")])
    outcome = run_job(small_job(), make_context(client, start=lambda address: None, may_start=lambda: False))
    assert not outcome.ok and outcome.code == "server_down" and outcome.pixels is None
    assert "No DeepFlash server answers at tcp://127.0.0.1:5557" in outcome.message
    assert str(LOG_PATH) in outcome.message


def test_server_down_is_started_once_then_the_request_is_retried():
    started = []
    client = FakeClient(failures=[ServerUnavailableError("down")])
    outcome = run_job(small_job(), make_context(client, start=started.append))
    assert outcome.ok
    assert started == ["tcp://127.0.0.1:5557"]
    assert len(client.calls) == 2


def test_failed_server_start_is_reported_with_its_reason():
    def start(address):
        raise ServerUnavailableError("the port is taken")

    outcome = run_job(small_job(), make_context(FakeClient(failures=[ServerUnavailableError("down")]), start=start))
    assert outcome.code == "start_failed" and "the port is taken" in outcome.message


def test_no_known_way_to_start_says_how_to_start_by_hand():
    outcome = run_job(small_job(), make_context(FakeClient(failures=[ServerUnavailableError("down")]), start=None))
    assert outcome.code == "server_down" and "deepflash serve" in outcome.message


def test_no_face_says_so_and_how_to_switch_mode():
    client = FakeClient(failures=[ServerError("No face found in the image.", "no_face")])
    outcome = run_job(small_job(), make_context(client))
    assert outcome.code == "no_face"
    assert outcome.message.startswith("No face found") and "Whole image" in outcome.message


def test_other_server_errors_carry_the_servers_message():
    client = FakeClient(failures=[ServerError("The image is 30000×10; too large.", "too_large")])
    outcome = run_job(small_job(), make_context(client))
    assert outcome.code == "server_error" and "too large" in outcome.message and str(LOG_PATH) in outcome.message


def test_unexpected_exceptions_become_a_message_not_a_traceback(caplog):
    client = FakeClient(failures=[ZeroDivisionError("boom")])
    with caplog.at_level(logging.ERROR, logger="deepflash.test"):
        outcome = run_job(small_job(), make_context(client))
    assert outcome.code == "unexpected" and "ZeroDivisionError: boom" in outcome.message
    assert "Traceback" in caplog.text  # the log keeps the details


def test_a_reply_of_the_wrong_shape_is_refused():
    class Shrinking(FakeClient):
        def process(self, pixels, **options):
            reply = super().process(pixels, **options)
            reply.height -= 1
            return reply

    outcome = run_job(small_job(), make_context(Shrinking()))
    assert not outcome.ok and "the reply is" in outcome.message


def test_a_buffer_that_does_not_match_its_shape_never_reaches_the_server():
    client = FakeClient()
    outcome = run_job(Job(b"123", 2, 2, 3, "u8"), make_context(client))
    assert outcome.code == "unexpected" and client.calls == []


def test_heartbeat_runs_while_the_call_waits_and_passes_errors_through():
    import threading

    release = threading.Event()
    beats = []

    def beat():
        beats.append(1)
        if len(beats) == 3:
            release.set()

    assert call_with_heartbeat(lambda: release.wait(5) and "done", beat, interval_s=0.01) == "done"
    assert len(beats) >= 3
    with pytest.raises(ValueError, match="inside"):
        call_with_heartbeat(lambda: (_ for _ in ()).throw(ValueError("inside")), lambda: None, 0.01)


def test_a_stopped_server_is_reported_within_seconds_by_the_real_client():
    """The real ZeroMQ client against a port nobody listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = make_context(FakeClient(), start=None)
    context.connect = client_factory(python="", auto_start_helper=False)
    context.address = f"tcp://127.0.0.1:{port}"
    outcome = run_job(small_job(), context)
    assert outcome.code == "server_down" and f"127.0.0.1:{port}" in outcome.message


def test_server_starter_reports_a_missing_command_as_a_deepflash_error(tmp_path):
    missing = tmp_path / "gone" / "deepflash"
    start = server_starter([str(missing), "serve"])
    assert start is not None
    with pytest.raises(ServerUnavailableError, match=str(missing)):
        start("tcp://127.0.0.1:1")
    assert server_starter([]) is None


# --- settings ------------------------------------------------------------------------------------------

DECLARED = (
    Setting("strength", float, 1.0, "strength", lambda value: 0 <= value <= 1),
    Setting("whole_image", bool, False, "mode"),
    Setting("address", str, "tcp://127.0.0.1:5557", "address"),
)


def test_settings_round_trip_through_json(tmp_path):
    settings = Settings(DECLARED, tmp_path / "sub" / "settings.json")
    settings.set("strength", 0.25)
    settings.set("whole_image", True)
    settings.save()
    again = Settings(DECLARED, tmp_path / "sub" / "settings.json")
    assert again.load() == []
    assert again["strength"] == 0.25 and again["whole_image"] is True


def test_missing_settings_file_gives_defaults_silently(tmp_path):
    settings = Settings(DECLARED, tmp_path / "none.json")
    assert settings.load() == [] and settings["strength"] == 1.0


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "\xff\xfe"])
def test_unreadable_settings_fall_back_to_defaults_with_a_note(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_bytes(content.encode("latin-1"))
    settings = Settings(DECLARED, path)
    problems = settings.load()
    assert len(problems) == 1 and "using defaults" in problems[0]
    assert settings["address"] == "tcp://127.0.0.1:5557"


def test_each_bad_value_falls_back_alone(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"strength": True, "whole_image": "yes", "address": "tcp://h:1", "extra": 1}))
    settings = Settings(DECLARED, path)
    problems = settings.load()
    assert settings["strength"] == 1.0  # a bool is not a number here
    assert settings["whole_image"] is False
    assert settings["address"] == "tcp://h:1"  # the good value is kept
    assert len(problems) == 3 and any("unknown setting 'extra'" in problem for problem in problems)


def test_out_of_range_and_non_finite_values_are_refused(tmp_path):
    settings = Settings(DECLARED, tmp_path / "s.json")
    for value in (1.5, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            settings.set("strength", value)
    settings.set("strength", 1)  # an int is a valid float
    assert settings["strength"] == 1.0 and isinstance(settings["strength"], float)


def test_install_record_checks_address_and_command(tmp_path):
    path = tmp_path / "deepflash_install.json"
    path.write_text(json.dumps({"address": "http://x", "serve_command": ["deepflash", 3], "python": "/py"}))
    record = Settings(INSTALL_RECORD, path)
    assert len(record.load()) == 2
    assert record["address"] == "tcp://127.0.0.1:5557" and record["serve_command"] == []
    assert record["python"] == "/py"


# --- paths and messages -------------------------------------------------------------------------------

def test_config_and_log_folders_per_platform():
    assert user_config_dir({"HOME": "/h"}, "linux") == Path("/h/.config/deepflash")
    assert user_config_dir({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}, "linux") == Path("/x/deepflash")
    assert user_config_dir({"HOME": "/h"}, "darwin") == Path("/h/Library/Application Support/DeepFlash")
    assert user_config_dir({"APPDATA": "C:/AppData"}, "win32") == Path("C:/AppData/DeepFlash")
    assert plugin_log_path("gimp", {"HOME": "/h"}, "linux") == Path("/h/.config/deepflash/logs/gimp-plugin.log")


def test_log_file_is_created_and_named(tmp_path):
    from deepflash_common.logfile import open_log

    log, path = open_log("test-editor", tmp_path / "logs" / "x.log")
    log.info("hello")
    for handler in log.handlers:
        handler.flush()
    assert path.read_text().strip().endswith("hello")


def test_messages_are_one_line():
    texts = [messages.server_down("tcp://a:1", LOG_PATH, True), messages.server_down("tcp://a:1", LOG_PATH, False),
             messages.no_face("untick it."), messages.done(2, False, 1.25, "L"), messages.server_status(None, "x"),
             messages.server_status({"device": "cpu", "state": "ready"}, "tcp://a:1")]
    assert all("\n" not in text for text in texts)
    assert messages.done(2, False, 1.25, "L") == "Corrected 2 faces in 1.2 s; the result is the new layer “L”."
    assert "(cpu, ready)" in texts[-1]


# --- the GIMP filter with fake GIMP objects ------------------------------------------------------------

class Rect(SimpleNamespace):
    pass


class FakeBuffer:
    """Stores bytes per babl format name; reading a format it does not hold fails like a wrong conversion."""

    def __init__(self, width, height, data=None):
        self.width, self.height, self.data, self.flushed = width, height, dict(data or {}), 0

    def get_extent(self):
        return Rect(x=0, y=0, width=self.width, height=self.height)

    def get(self, rect, scale, fmt, abyss):
        return self.data[fmt]

    def set(self, rect, fmt, data):
        if (rect.width, rect.height) != (self.width, self.height):
            raise AssertionError("partial write")
        self.data[fmt] = bytes(data)

    def flush(self):
        self.flushed += 1


class FakeLayer:
    def __init__(self, name, width, height, kind="RGBA", data=None, layer=True, offsets=(0, 0)):
        self.name, self.kind, self.layer, self.offsets = name, kind, layer, offsets
        self.buffer = FakeBuffer(width, height, data)
        self.mask = None
        self.updates = []

    def is_layer(self):
        return self.layer

    def has_alpha(self):
        return self.kind.endswith("A")

    def get_buffer(self):
        return self.buffer

    def get_parent(self):
        return None

    def get_offsets(self):
        return (True, *self.offsets)

    def set_offsets(self, x, y):
        self.offsets = (x, y)

    def create_mask(self, kind):
        return ("mask", kind)

    def add_mask(self, mask):
        self.mask = mask

    def update(self, *area):
        self.updates.append(area)


class FakeImage:
    def __init__(self, layers, base="RGB", precision="GIMP_PRECISION_U8_NON_LINEAR", selection=False):
        self.layers, self.base, self.selection = layers, base, selection
        self.precision = SimpleNamespace(value_name=precision)
        self.undo = []

    def get_base_type(self):
        return self.base

    def get_precision(self):
        return self.precision

    def get_item_position(self, item):
        return self.layers.index(item)

    def insert_layer(self, layer, parent, position):
        self.layers.insert(position, layer)

    def undo_group_start(self):
        self.undo.append("start")

    def undo_group_end(self):
        self.undo.append("end")


def fake_gimp(events: list) -> SimpleNamespace:
    def new_layer(image, name, width, height, kind, opacity, mode):
        return FakeLayer(name, width, height, kind)

    return SimpleNamespace(
        ImageBaseType=SimpleNamespace(RGB="RGB", GRAY="GRAY", INDEXED="INDEXED"),
        ImageType=SimpleNamespace(RGB_IMAGE="RGB", RGBA_IMAGE="RGBA", GRAY_IMAGE="GRAY", GRAYA_IMAGE="GRAYA"),
        LayerMode=SimpleNamespace(NORMAL="normal"),
        AddMaskType=SimpleNamespace(SELECTION="selection"),
        Layer=SimpleNamespace(new=new_layer),
        Selection=SimpleNamespace(is_empty=lambda image: not image.selection),
        progress_init=lambda text: events.append("progress_init"),
        progress_pulse=lambda: events.append("pulse"),
        progress_update=lambda fraction: events.append(("progress", fraction)),
        progress_end=lambda: events.append("progress_end"),
        context_push=lambda: events.append("push"),
        context_pop=lambda: events.append("pop"),
        displays_flush=lambda: events.append("flush"),
        message=lambda text: events.append(("message", text)),
    )


FAKE_GEGL = SimpleNamespace(AbyssPolicy=SimpleNamespace(CLAMP="clamp"),
                            Rectangle=SimpleNamespace(new=lambda x, y, w, h: Rect(x=x, y=y, width=w, height=h)))


def run_filter(image, drawables, client, params=gimp_filter.Params(), events=None, interactive=False):
    events = [] if events is None else events
    return gimp_filter.apply_flash(fake_gimp(events), FAKE_GEGL, image, drawables, params, make_context(client),
                                   interactive), events


def test_filter_adds_the_result_above_the_original_and_leaves_it_untouched():
    pixels = bytes(range(2 * 3 * 4))
    original = FakeLayer("photo", 2, 3, "RGBA", {"R'G'B'A u8": pixels}, offsets=(5, 7))
    below = FakeLayer("below", 2, 3)
    image = FakeImage([original, below])
    outcome, events = run_filter(image, [original], FakeClient())
    assert outcome.ok
    new = image.layers[0]
    assert [layer.name for layer in image.layers] == [gimp_filter.LAYER_NAME, "photo", "below"]
    assert new.buffer.data == {"R'G'B'A u8": bytes(255 - b for b in pixels)}
    assert original.buffer.data == {"R'G'B'A u8": pixels}
    assert new.offsets == (5, 7) and new.kind == "RGBA" and new.mask is None and new.buffer.flushed == 1
    assert image.undo == ["start", "end"]
    assert events.count("push") == events.count("pop") == 1
    assert events[0] == "progress_init" and events[-1] == "progress_end"


@pytest.mark.parametrize("precision, babl, dtype", [
    ("GIMP_PRECISION_U16_NON_LINEAR", "R'G'B'A u16", "u16"),
    ("GIMP_PRECISION_U16_LINEAR", "R'G'B'A u16", "u16"),
    ("GIMP_PRECISION_U32_LINEAR", "R'G'B'A float", "f32"),
    ("GIMP_PRECISION_HALF_PERCEPTUAL", "R'G'B'A float", "f32"),
    ("GIMP_PRECISION_DOUBLE_LINEAR", "R'G'B'A float", "f32"),
])
def test_16_bit_and_float_images_are_read_and_written_in_an_explicit_format(precision, babl, dtype):
    size = 2 * 2 * 4 * {"u16": 2, "f32": 4}[dtype]
    original = FakeLayer("photo", 2, 2, "RGBA", {babl: bytes(size)})
    image = FakeImage([original], precision=precision)
    client = FakeClient()
    outcome, _ = run_filter(image, [original], client)
    assert outcome.ok and client.calls[0]["dtype"] == dtype and client.calls[0]["size"] == size
    assert set(image.layers[0].buffer.data) == {babl}


def test_grayscale_without_alpha_goes_as_rgb_into_a_gray_layer():
    original = FakeLayer("gray", 3, 1, "GRAY", {"R'G'B' u8": bytes(9)})
    image = FakeImage([original], base="GRAY")
    client = FakeClient()
    outcome, _ = run_filter(image, [original], client)
    assert outcome.ok and client.calls[0]["channels"] == 3
    assert image.layers[0].kind == "GRAY" and set(image.layers[0].buffer.data) == {"R'G'B' u8"}


def test_a_selection_becomes_the_new_layers_mask():
    original = FakeLayer("photo", 1, 1, "RGBA", {"R'G'B'A u8": bytes(4)})
    image = FakeImage([original], selection=True)
    outcome, _ = run_filter(image, [original], FakeClient())
    assert outcome.ok and image.layers[0].mask == ("mask", "selection")


@pytest.mark.parametrize("failure, code", [
    (ServerError("No face found.", "no_face"), "no_face"),
    (ServerUnavailableError("down"), "server_down"),
])
def test_failures_leave_the_image_alone(failure, code):
    original = FakeLayer("photo", 1, 1, "RGBA", {"R'G'B'A u8": bytes(4)})
    image = FakeImage([original])
    outcome, events = run_filter(image, [original], FakeClient(failures=[failure]),
                                 gimp_filter.Params(start_server=False))
    assert outcome.code == code and image.layers == [original] and image.undo == []
    assert events[-1] == "progress_end"


def test_undo_group_and_context_close_when_writing_fails():
    class Refusing(FakeBuffer):
        def set(self, rect, fmt, data):
            raise RuntimeError("disk full")

    original = FakeLayer("photo", 1, 1, "RGBA", {"R'G'B'A u8": bytes(4)})
    image = FakeImage([original])
    events: list = []
    gimp = fake_gimp(events)

    def new_layer(*args):
        layer = FakeLayer("new", 1, 1)
        layer.buffer = Refusing(1, 1)
        return layer

    gimp.Layer = SimpleNamespace(new=new_layer)
    with pytest.raises(RuntimeError):
        gimp_filter.apply_flash(gimp, FAKE_GEGL, image, [original], gimp_filter.Params(), make_context(FakeClient()))
    assert image.undo == ["start", "end"] and events.count("push") == events.count("pop") == 1
    assert events[-1] == "progress_end"


def test_input_is_validated_even_though_the_menu_is_greyed():
    gimp = fake_gimp([])
    layer = FakeLayer("a", 1, 1)
    with pytest.raises(gimp_filter.FilterError, match="exactly one"):
        gimp_filter.check_input(gimp, FakeImage([layer]), [layer, layer])
    with pytest.raises(gimp_filter.FilterError, match="channels"):
        gimp_filter.check_input(gimp, FakeImage([layer]), [FakeLayer("mask", 1, 1, layer=False)])
    with pytest.raises(gimp_filter.FilterError, match="RGB"):
        gimp_filter.check_input(gimp, FakeImage([layer], base="INDEXED"), [layer])
    outcome, _ = run_filter(FakeImage([layer]), [], FakeClient())
    assert outcome.code == "bad_input"


def test_server_start_policy_follows_the_run_mode():
    asked = []
    ask = lambda: asked.append(1) or True  # noqa: E731
    assert gimp_filter.may_start_server(False, gimp_filter.Params(start_server=True), ask)() is True
    assert gimp_filter.may_start_server(False, gimp_filter.Params(start_server=False), ask)() is False
    assert gimp_filter.may_start_server(True, gimp_filter.Params(start_server=False), ask)() is True
    assert asked == [1]


def test_an_interactive_success_is_said_while_the_progress_is_on_the_image_window():
    layer = FakeLayer("photo", 2, 3, "RGBA", {"R'G'B'A u8": bytes(24)})
    outcome, events = run_filter(FakeImage([layer]), [layer], FakeClient(), interactive=True)
    said = [event for event in events if event[0] == "message"]
    assert said == [("message", f"Corrected 1 face in {outcome.seconds:.1f} s")]
    assert events.index(said[0]) < events.index("progress_end")
    _, quiet = run_filter(FakeImage([layer]), [layer], FakeClient())
    assert not [event for event in quiet if event[0] == "message"]


@pytest.mark.parametrize("interactive", [True, False])
def test_success_is_one_short_status_line_for_interactive_runs(interactive):
    shown = []
    outcome = Outcome(True, "ok", "long text", b"", faces=1, seconds=0.61, warnings=["w"])
    gimp_filter.report(SimpleNamespace(message=shown.append), outcome, False, interactive)
    status = ["Corrected 1 face in 0.6 s"] if interactive else []
    assert shown == status + ["DeepFlash: w"]
    assert all(len(text) < 40 and "\n" not in text for text in status)  # GIMP's status bar takes one short line


def test_dialog_labels_have_distinct_mnemonics_unlike_the_dialog_buttons():
    source = (REPO / "gimp_plugin" / "deepflash" / "deepflash.py").read_text()
    labels = re.findall(r'add_\w+_argument\(\s*"[\w-]+",\s*"([^"]*)"', source)
    assert len(labels) == 4
    keys = [label[label.index("_") + 1].lower() for label in labels if "_" in label]
    assert len(keys) == len(labels), f"a label without a mnemonic: {labels}"
    # GimpProcedureDialog's buttons: _Help, _Reset, _Cancel, _OK, _Load and _Save defaults.
    assert len(set(keys)) == len(keys) and not set(keys) & set("hrcols"), labels
    assert 'get_widget("mode", Gtk.ComboBox)' in source  # a radio frame's title has no mnemonic for GIMP


def test_the_plug_in_file_compiles_and_is_executable(tmp_path):
    plug_in = REPO / "gimp_plugin" / "deepflash" / "deepflash.py"
    py_compile.compile(str(plug_in), cfile=str(tmp_path / "x.pyc"), doraise=True)
    assert plug_in.stat().st_mode & 0o111
    assert plug_in.read_text().splitlines()[-1] == "Gimp.main(DeepFlash.__gtype__, sys.argv)"


def test_a_closed_local_port_is_refused_at_once_and_a_listening_one_is_not():
    import socket

    from deepflash_common.connection import refuse_if_nothing_listens

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        refuse_if_nothing_listens(f"tcp://127.0.0.1:{port}")  # something listens: no error
    with pytest.raises(ServerUnavailableError, match=f"127.0.0.1:{port}"):
        refuse_if_nothing_listens(f"tcp://127.0.0.1:{port}")
    refuse_if_nothing_listens("tcp://192.0.2.1:5557")  # not local: left to the ping
    refuse_if_nothing_listens("ipc:///tmp/deepflash.sock")


def test_without_pyzmq_the_stdio_helper_of_the_recorded_python_is_used(monkeypatch):
    """An editor Python without pyzmq: the request goes through ``python -m deepflash_core.stdio_bridge``."""
    import socket

    from deepflash_core import client as deepflash_client

    monkeypatch.setattr(deepflash_client, "zmq", None)
    assert server_starter(["deepflash", "serve"]) is None  # only the helper can start a server then
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connect = client_factory(python=sys.executable, auto_start_helper=False, timeout_s=2.0)
    helper = connect(f"tcp://127.0.0.1:{port}")
    assert isinstance(helper, deepflash_client.StdioClient) and helper.python == sys.executable
    context = make_context(FakeClient(), start=None)
    context.connect, context.address = connect, f"tcp://127.0.0.1:{port}"
    monkeypatch.chdir(REPO)  # the helper imports deepflash_core from the source tree
    outcome = run_job(small_job(), context)
    assert outcome.code == "server_down", outcome.message

    context.connect = client_factory(python="", auto_start_helper=False)
    outcome = run_job(small_job(), context)
    assert outcome.code == "server_error" and "no pyzmq" in outcome.message
