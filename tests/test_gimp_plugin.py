"""The GIMP plug-in's logic with small fakes of GIMP's API.

The real GIMP runs the same code in tests/editors (``make test-editors``).
"""

from __future__ import annotations

import py_compile
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from editor_fakes import REFERENCE_LOOK, FakeClient, make_context

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "gimp_plugin" / "deepflash"))

import gimp_filter  # noqa: E402
from deepflash_client.client_base import ProcessReply  # noqa: E402
from deepflash_client.errors import ServerError, ServerUnavailableError  # noqa: E402
from deepflash_client.options import Options  # noqa: E402
from deepflash_client.protocol import ImageSpec  # noqa: E402
from deepflash_client.summary import ResultSummary  # noqa: E402
from deepflash_editor import looks  # noqa: E402
from deepflash_editor.job import Outcome  # noqa: E402


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

    def get_image(self):
        return self.image

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
        if kind == "white":
            return FakeMask(self.buffer.width, self.buffer.height)
        return ("mask", kind)

    def add_mask(self, mask):
        self.mask = mask

    def update(self, *area):
        self.updates.append(area)


class FakeMask:
    """A white layer mask: its buffer, and the channels combined into it."""

    def __init__(self, width, height):
        self.buffer = FakeBuffer(width, height)
        self.combined = []

    def get_buffer(self):
        return self.buffer

    def combine_masks(self, channel, operation, offset_x, offset_y):
        self.combined.append((channel, operation, offset_x, offset_y))


class FakeImage:
    def __init__(self, layers, base="RGB", precision="GIMP_PRECISION_U8_NON_LINEAR", selection=False):
        self.layers, self.base, self.selection = layers, base, selection
        self.precision = SimpleNamespace(value_name=precision)
        self.undo = []
        for layer in layers:
            layer.image = self

    def get_base_type(self):
        return self.base

    def get_precision(self):
        return self.precision

    def get_selection(self):
        return "selection-channel"

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
        AddMaskType=SimpleNamespace(SELECTION="selection", WHITE="white"),
        ChannelOps=SimpleNamespace(INTERSECT="intersect"),
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


@pytest.mark.parametrize("selection", [False, True])
def test_the_matte_becomes_the_new_layers_mask_intersected_with_a_selection(selection):
    original = FakeLayer("photo", 2, 3, "RGBA", {"R'G'B'A u8": bytes(24)}, offsets=(5, 7))
    image = FakeImage([original], selection=selection)
    client = FakeClient()
    params = gimp_filter.Params(options=Options(with_matte=True, background="lift", red_eye=False))
    outcome, _ = run_filter(image, [original], client, params)
    assert outcome.ok and client.calls[0]["options"] == params.options
    mask = image.layers[0].mask
    assert isinstance(mask, FakeMask) and mask.buffer.flushed == 1
    assert mask.buffer.data == {gimp_filter.MATTE_FORMAT: bytes(range(10, 16))}
    assert mask.combined == ([("selection-channel", "intersect", -5, -7)] if selection else [])


def test_without_the_matte_option_no_matte_is_asked_for_and_no_mask_is_added():
    original = FakeLayer("photo", 1, 1, "RGBA", {"R'G'B'A u8": bytes(4)})
    image = FakeImage([original])
    client = FakeClient()
    outcome, _ = run_filter(image, [original], client)
    assert outcome.ok and outcome.matte is None and client.calls[0]["options"].with_matte is False
    assert image.layers[0].mask is None


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
    reply = ProcessReply(b"", ImageSpec(0, 0, 3, "u8"), ResultSummary(faces=[{"box": [0, 0, 1, 1]}], warnings=["w"]))
    outcome = Outcome(True, "ok", "long text", reply, seconds=0.61)
    gimp_filter.report(SimpleNamespace(message=shown.append), outcome, False, interactive)
    status = ["Corrected 1 face in 0.6 s"] if interactive else []
    assert shown == status + ["DeepFlash: w"]
    assert all(len(text) < 40 and "\n" not in text for text in status)  # GIMP's status bar takes one short line


def test_dialog_labels_have_distinct_mnemonics_unlike_the_dialog_buttons():
    source = (REPO / "gimp_plugin" / "deepflash" / "deepflash.py").read_text()
    labels = re.findall(r'add_\w+_argument\(\s*"[\w-]+",\s*"([^"]*)"', source)
    assert len(labels) == 9
    keys = [label[label.index("_") + 1].lower() for label in labels if "_" in label]
    assert len(keys) == len(labels), f"a label without a mnemonic: {labels}"
    # GimpProcedureDialog's buttons: _Help, _Reset, _Cancel, _OK, _Load and _Save defaults.
    assert len(set(keys)) == len(keys) and not set(keys) & set("hrcols"), labels
    # A radio frame's title has no mnemonic for GIMP: each choice is shown as a combo.
    choices = re.findall(r'add_choice_argument\(\s*"([\w-]+)"', source)
    declared = "CHOICES = (" + ", ".join(f'"{name}"' for name in choices) + ")"
    assert choices and declared in source and "dialog.get_widget(choice, Gtk.ComboBox)" in source


def test_the_dialog_declares_the_options_with_the_request_types_defaults():
    source = (REPO / "gimp_plugin" / "deepflash" / "deepflash.py").read_text()
    for argument, default in [("background", "Options().background"), ("red-eye", "Options().red_eye"),
                              ("matte-mask", "Options().with_matte")]:
        declaration = source[source.index(f'_argument("{argument}"'):]
        assert default in declaration[:declaration.index("GObject.ParamFlags")], argument
        assert f'config.get_property("{argument}")' in source


def test_the_plug_in_file_compiles_and_is_executable(tmp_path):
    plug_in = REPO / "gimp_plugin" / "deepflash" / "deepflash.py"
    py_compile.compile(str(plug_in), cfile=str(tmp_path / "x.pyc"), doraise=True)
    assert plug_in.stat().st_mode & 0o111
    assert plug_in.read_text().splitlines()[-1] == "Gimp.main(DeepFlash.__gtype__, sys.argv)"


# --- the Look choice --------------------------------------------------------------------------------------------

def test_a_preset_look_travels_by_name_and_the_result_is_one_new_layer_in_one_undo_step():
    layer = FakeLayer("photo", 2, 3, "RGBA", {"R'G'B'A u8": bytes(24)})
    image = FakeImage([layer])
    client = FakeClient()
    outcome, _ = run_filter(image, [layer], client, gimp_filter.Params(options=Options(look="neutral-studio")))
    assert outcome.ok and [call["options"].look for call in client.calls] == ["neutral-studio"]
    assert not client.described and [l.name for l in image.layers] == [gimp_filter.LAYER_NAME, "photo"]
    assert image.undo == ["start", "end"]


def test_a_reference_layer_of_another_image_is_described_and_its_look_sent_with_the_photo():
    looks._described.clear()
    deep = bytes(range(256)) * 3  # 16 × 8 RGB at 16 bits
    reference = FakeLayer("studio portrait", 16, 8, "RGB", {"R'G'B' u16": deep})
    other = FakeImage([reference], precision="GIMP_PRECISION_U16_LINEAR")
    layer = FakeLayer("photo", 2, 3, "RGBA", {"R'G'B'A u8": bytes(24)})
    image = FakeImage([layer])
    client = FakeClient()
    params = gimp_filter.Params(options=Options(look=looks.REFERENCE), reference=reference)
    outcome, _ = run_filter(image, [layer], client, params)
    assert outcome.ok, outcome.message
    assert client.described == [dict(pixels=deep, width=16, height=8, channels=3, dtype="u16")]
    assert [call["options"].look for call in client.calls] == [REFERENCE_LOOK]
    assert [l.name for l in image.layers] == [gimp_filter.LAYER_NAME, "photo"] and image.undo == ["start", "end"]
    assert [l.name for l in other.layers] == ["studio portrait"] and other.undo == []


def test_the_reference_look_without_a_reference_layer_is_one_line_and_nothing_is_sent():
    layer = FakeLayer("photo", 2, 3, "RGBA", {"R'G'B'A u8": bytes(24)})
    image = FakeImage([layer])
    client = FakeClient()
    outcome, _ = run_filter(image, [layer], client, gimp_filter.Params(options=Options(look=looks.REFERENCE)))
    assert not outcome.ok and outcome.code == "bad_input"
    assert outcome.message == "Choose the reference image or layer (“Reference layer”) whose look to take, or a preset look."
    assert not client.calls and not client.described and image.layers == [layer]


def test_a_bad_reference_is_the_servers_line_and_the_image_is_left_alone():
    looks._described.clear()
    grey = FakeLayer("grey", 4, 4, "RGB", {"R'G'B' u8": bytes(48)})
    FakeImage([grey])
    layer = FakeLayer("photo", 2, 3, "RGBA", {"R'G'B'A u8": bytes(24)})
    image = FakeImage([layer])
    client = FakeClient(look_failures=[ServerError("The reference is greyscale; a look is taken from a colour photo.",
                                                   "bad_reference")])
    outcome, _ = run_filter(image, [layer], client, gimp_filter.Params(options=Options(look=looks.REFERENCE),
                                                                       reference=grey))
    assert not outcome.ok and outcome.code == "bad_reference"
    assert outcome.message.startswith("The reference is greyscale; a look is taken from a colour photo. Nothing was "
                                      "changed: choose another reference, or a preset look.")
    assert "\n" not in outcome.message and not client.calls and image.layers == [layer] and image.undo == []
