"""The Krita plug-in's pixel layouts and layer handling, with a fake of Krita's document API.

The real Krita runs the docker in tests/editors (``make test-editors``); Qt stays out of these tests.
"""

from __future__ import annotations

import array
import configparser
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepflash_client.options import Options
from deepflash_krita.deepflash import document, pixels, transfer
from deepflash_krita.deepflash.settings import krita_settings, options_of

REPO = Path(__file__).resolve().parents[1]


# --- pixel layouts --------------------------------------------------------------------------------------

def test_bgra_u8_becomes_rgba():
    assert pixels.swap_red_blue(bytes([1, 2, 3, 4, 5, 6, 7, 8]), 1) == bytes([3, 2, 1, 4, 7, 6, 5, 8])


def test_bgra_u16_swaps_whole_samples_not_bytes():
    bgra = array.array("H", [100, 200, 300, 400, 65535, 1, 258, 0]).tobytes()
    rgba = array.array("H")
    rgba.frombytes(pixels.swap_red_blue(bgra, 2))
    assert rgba.tolist() == [300, 200, 100, 400, 258, 1, 65535, 0]


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=64).map(lambda data: data[: len(data) // 8 * 8]), st.sampled_from([1, 2]))
def test_swapping_twice_gives_back_the_input(data, channel_bytes):
    assert pixels.swap_red_blue(pixels.swap_red_blue(data, channel_bytes), channel_bytes) == data


def test_partial_pixels_are_refused():
    with pytest.raises(ValueError, match="whole number"):
        pixels.swap_red_blue(bytes(6), 1)


def test_half_floats_convert_like_numpy_with_and_without_numpy(monkeypatch):
    values = np.array([0.0, 1.0, 0.5, 0.333, 1e-4, 2.0, -1.0, 65504.0], dtype=np.float16)
    expected = values.astype(np.float32).tobytes()
    assert pixels.half_to_float(values.tobytes()) == expected
    monkeypatch.setitem(sys.modules, "numpy", None)  # an editor Python without numpy
    assert pixels.half_to_float(values.tobytes()) == expected
    assert pixels.float_to_half(expected) == values.tobytes()


def test_float_to_half_saturates_to_infinity_without_numpy(monkeypatch):
    monkeypatch.setitem(sys.modules, "numpy", None)
    half = pixels.float_to_half(struct.pack("=3f", 1e6, -1e6, 0.25))
    assert struct.unpack("=3e", half) == (float("inf"), float("-inf"), 0.25)


@pytest.mark.parametrize("depth, dtype", [("U8", "u8"), ("U16", "u16"), ("F16", "f32"), ("F32", "f32")])
def test_every_rgba_depth_has_a_protocol_layout(depth, dtype):
    assert pixels.krita_layout("RGBA", depth).protocol_dtype == dtype


@pytest.mark.parametrize("model, depth", [("CMYKA", "U8"), ("GRAYA", "U16"), ("LABA", "F32"), ("RGBA", "F64")])
def test_other_colour_models_get_a_clear_message(model, depth):
    with pytest.raises(pixels.UnsupportedLayoutError, match=f"this one is {model} {depth}.*Convert"):
        pixels.krita_layout(model, depth)


# --- a fake Krita document --------------------------------------------------------------------------------

class FakeRect:
    def __init__(self, x, y, w, h):
        self.rect = (x, y, w, h)

    def x(self):
        return self.rect[0]

    def y(self):
        return self.rect[1]

    def width(self):
        return self.rect[2]

    def height(self):
        return self.rect[3]


class FakeNode:
    """A layer whose pixels cover ``rect`` (x, y, width, height; None: the document's canvas)."""

    def __init__(self, name, kind="paintlayer", data=b"", projection=None, document=None, rect=None):
        self.name, self.kind, self.data, self.projection = name, kind, data, projection
        self.parent, self.children, self.document, self.selection = None, [], document, None
        self.rect = rect

    def type(self):
        return self.kind

    def bounds(self):
        return FakeRect(*(self.rect or (0, 0, self.document.w, self.document.h)))

    def _read(self, data, rect):
        # Like Krita, any rectangle can be read; the fake only holds its own bounds.
        assert rect == self.bounds().rect, f"read {rect}, the layer covers {self.bounds().rect}"
        return data

    def pixelData(self, x, y, w, h):  # noqa: N802 (Krita's names)
        return self._read(self.data, (x, y, w, h))

    def projectionPixelData(self, x, y, w, h):  # noqa: N802
        return self._read(self.projection, (x, y, w, h))

    def setPixelData(self, data, x, y, w, h):  # noqa: N802
        if self.document is not None and self.document.events is not None:
            self.document.events.append(("pixels", self.name, self.parent is not None))
        self.data = bytes(data)
        self.rect = (x, y, w, h)

    def parentNode(self):  # noqa: N802
        return self.parent

    def childNodes(self):  # noqa: N802
        return list(self.children)

    def addChildNode(self, child, above):  # noqa: N802
        child.parent = self
        index = self.children.index(above) + 1 if above is not None else len(self.children)
        self.children.insert(index, child)  # Krita lists children bottom first
        if self.document is not None:
            self.document.events.append(("add", child.name))
        return True

    def setSelection(self, selection):  # noqa: N802
        self.selection = selection


# Krita's defaults: integer RGB documents are sRGB, float ones linear.
SRGB_PROFILE, LINEAR_PROFILE = "sRGB-elle-V2-srgbtrc.icc", "sRGB-elle-V2-g10.icc"


class FakeDocument:
    def __init__(self, depth, data, width=2, height=1, model="RGBA", selection=None, active="photo", profile=None,
                 rect=None):
        self.depth, self.model, self.w, self.h, self._selection = depth, model, width, height, selection
        self.profile = profile or (LINEAR_PROFILE if depth.startswith("F") else SRGB_PROFILE)
        self.events: list = []
        self.root = FakeNode("root", "grouplayer", document=self)
        self.photo = FakeNode("photo", data=data, document=self, rect=rect)
        self.root.addChildNode(FakeNode("background", data=data, document=self, rect=rect), None)
        self.root.addChildNode(self.photo, None)
        self.events.clear()
        self.active = self.photo if active == "photo" else active
        self.refreshed = 0

    def activeNode(self):  # noqa: N802
        return self.active

    def topLevelNodes(self):  # noqa: N802
        return list(self.root.children)

    def colorModel(self):  # noqa: N802
        return self.model

    def colorDepth(self):  # noqa: N802
        return self.depth

    def colorProfile(self):  # noqa: N802
        return self.profile

    def width(self):
        return self.w

    def height(self):
        return self.h

    def rootNode(self):  # noqa: N802
        return self.root

    def selection(self):
        return self._selection

    def createNode(self, name, kind):  # noqa: N802
        return FakeNode(name, kind, document=self)

    def createTransparencyMask(self, name):  # noqa: N802
        return FakeNode(name, "transparencymask", document=self)

    def refreshProjection(self):  # noqa: N802
        self.refreshed += 1


def invert_u8(data: bytes) -> bytes:
    return bytes(255 - b for b in data)


def test_u8_layer_is_sent_as_rgba_and_the_result_lands_above_it_in_bgra():
    bgra = bytes([10, 20, 30, 255, 40, 50, 60, 128])
    doc = FakeDocument("U8", bgra)
    source = document.read_active_layer(doc)
    assert source.pixels == bytes([30, 20, 10, 255, 60, 50, 40, 128])
    assert (source.width, source.height, source.layout.protocol_dtype) == (2, 1, "u8")
    result = invert_u8(source.pixels)
    layer = document.add_result_layer(source, result)
    assert [node.name for node in doc.root.children] == ["background", "photo", document.LAYER_NAME]
    assert layer.data == pixels.swap_red_blue(result, 1)
    assert doc.photo.data == bgra  # the original is untouched
    # pixels written before the layer joins the document: adding it is the single undo step
    assert doc.events == [("pixels", document.LAYER_NAME, False), ("add", document.LAYER_NAME)]
    assert doc.refreshed == 1


def test_the_new_layer_goes_right_above_the_active_one_not_on_top():
    doc = FakeDocument("U8", bytes(8))
    doc.active = doc.root.children[0]  # the background, below "photo"
    source = document.read_active_layer(doc)
    document.add_result_layer(source, bytes(8))
    assert [node.name for node in doc.root.children] == ["background", document.LAYER_NAME, "photo"]


def test_u16_document_round_trips_through_the_protocol_layout():
    bgra = array.array("H", [1000, 2000, 3000, 65535, 1, 2, 3, 4]).tobytes()
    doc = FakeDocument("U16", bgra)
    source = document.read_active_layer(doc)
    assert source.layout.protocol_dtype == "u16"
    assert array.array("H", source.pixels).tolist() == [3000, 2000, 1000, 65535, 3, 2, 1, 4]
    layer = document.add_result_layer(source, source.pixels)
    assert layer.data == bgra


def test_srgb_f16_document_is_sent_as_f32_and_written_back_as_f16():
    rgba = np.array([0.25, 0.5, 0.75, 1.0, 0.1, 0.2, 0.3, 0.4], dtype=np.float16)
    doc = FakeDocument("F16", rgba.tobytes(), profile=SRGB_PROFILE)
    source = document.read_active_layer(doc)
    assert source.layout.protocol_dtype == "f32" and not source.linear
    assert np.array_equal(np.frombuffer(source.pixels, np.float32), rgba.astype(np.float32))
    layer = document.add_result_layer(source, source.pixels)
    assert layer.data == rgba.tobytes()


def test_srgb_f32_document_is_passed_through():
    rgba = np.linspace(0, 1, 8, dtype=np.float32)
    doc = FakeDocument("F32", rgba.tobytes(), profile="sRGB built-in")
    assert document.read_active_layer(doc).pixels == rgba.tobytes()


# Reference points: sRGB 0.5 is linear 0.214041, 18 % grey encodes to 0.461356, the knee is at 0.04045.
LINEAR = [0.21404114, 0.0031308, 1.0, 0.3, 0.0, 0.5, 0.18, 1.0]
ENCODED = [0.5, 0.04045, 1.0, 0.3, 0.0, 0.7353569, 0.4613561, 1.0]


@pytest.mark.parametrize("with_numpy", [True, False])
def test_linear_f32_document_is_encoded_to_srgb_and_decoded_back(monkeypatch, with_numpy):
    if not with_numpy:
        monkeypatch.setitem(sys.modules, "numpy", None)  # an editor Python without numpy
    linear = array.array("f", LINEAR).tobytes()
    doc = FakeDocument("F32", linear, profile=LINEAR_PROFILE)
    source = document.read_active_layer(doc)
    assert source.linear
    sent = array.array("f", source.pixels).tolist()
    assert sent == pytest.approx(ENCODED, abs=2e-6)
    assert sent[3] == pytest.approx(0.3) and sent[7] == 1.0  # alpha is not a colour: unchanged
    layer = document.add_result_layer(source, source.pixels)
    assert array.array("f", layer.data).tolist() == pytest.approx(LINEAR, abs=2e-6)


def test_linear_f16_document_round_trips_to_the_same_half_floats():
    rgba = np.random.default_rng(1).uniform(0, 1, (64, 4)).astype(np.float16)
    doc = FakeDocument("F16", rgba.tobytes(), width=64)  # Krita's default float profile is linear
    source = document.read_active_layer(doc)
    encoded = np.frombuffer(source.pixels, np.float32).reshape(-1, 4)
    assert np.all(encoded[:, :3] >= rgba[:, :3].astype(np.float32) - 1e-6)  # encoding brightens
    assert np.array_equal(encoded[:, 3], rgba[:, 3].astype(np.float32))
    layer = document.add_result_layer(source, source.pixels)
    assert layer.data == rgba.tobytes()


def test_float_values_outside_zero_to_one_keep_their_sign_and_extend_the_curve():
    values = array.array("f", [-0.21404114, 2.0, 0.0, 1.0]).tobytes()
    encoded = array.array("f", transfer.linear_to_srgb(values)).tolist()
    assert encoded[0] == pytest.approx(-0.5, abs=1e-6) and encoded[1] > 1.0
    assert array.array("f", transfer.srgb_to_linear(transfer.linear_to_srgb(values))).tolist() == \
        pytest.approx(array.array("f", values).tolist(), abs=1e-6)


@pytest.mark.parametrize("name, linear", [
    ("sRGB-elle-V2-g10.icc", True), ("Rec2020-elle-V4-g10.icc", True), ("scRGB (linear)", True),
    ("sRGB-elle-V2-srgbtrc.icc", False), ("sRGB built-in", False), ("", False),
])
def test_linear_profiles_are_told_apart_by_name(name, linear):
    assert transfer.is_linear_profile(name) is linear


def krita_srgb8_to_linear16(srgb: np.ndarray) -> np.ndarray:
    """What Krita stores when an 8-bit sRGB image is converted to 16-bit with its default 16-bit profile
    (sRGB-elle-V2-g10.icc, linear): the decoded value, rounded to 16 bits; alpha is scaled."""
    normal = srgb.astype(np.float64) / 255
    decoded = np.where(normal <= 0.04045, normal / 12.92, ((normal + 0.055) / 1.055) ** 2.4)
    decoded[..., 3] = normal[..., 3]
    return np.round(decoded * 65535).astype(np.uint16)


def krita_linear16_to_srgb8(linear: np.ndarray) -> np.ndarray:
    normal = linear.astype(np.float64) / 65535
    encoded = np.where(normal <= 0.0031308, normal * 12.92, 1.055 * normal ** (1 / 2.4) - 0.055)
    encoded[..., 3] = normal[..., 3]
    return np.round(encoded * 255).astype(np.uint8)


def test_a_linear_16_bit_document_is_sent_as_the_8_bit_srgb_values_and_comes_back_as_it_was(portrait_path):
    from PIL import Image

    rgba8 = np.asarray(Image.open(portrait_path).convert("RGBA"))
    height, width = rgba8.shape[:2]
    linear16 = krita_srgb8_to_linear16(rgba8)
    bgra16 = linear16[..., [2, 1, 0, 3]].tobytes()
    doc = FakeDocument("U16", bgra16, width=width, height=height, profile=LINEAR_PROFILE)
    source = document.read_active_layer(doc)
    assert source.linear and source.dtype == "f32"
    sent = np.frombuffer(source.pixels, np.float32).reshape(height, width, 4)
    assert np.abs(sent * 255 - rgba8).max() < 0.5  # the model sees what the 8-bit document shows
    # Pixels the server leaves alone (outside the person) come back exactly as they were.
    assert document.add_result_layer(source, source.pixels).data == bgra16
    # A change the server makes lands as Krita would convert it: the 8-bit view of the layer is that change.
    brighter = np.clip(sent + np.float32(0.1), 0, 1)
    brighter[..., 3] = sent[..., 3]
    layer = document.add_result_layer(source, brighter.tobytes())
    shown = krita_linear16_to_srgb8(np.frombuffer(layer.data, np.uint16).reshape(height, width, 4)[..., [2, 1, 0, 3]])
    assert np.abs(shown.astype(int) - np.round(brighter * 255)).max() <= 1


@pytest.mark.parametrize("with_numpy", [True, False])
@pytest.mark.parametrize("depth, dtype", [("U8", np.uint8), ("U16", np.uint16)])
def test_every_integer_value_of_a_linear_document_round_trips_exactly(monkeypatch, depth, dtype, with_numpy):
    values = np.arange(np.iinfo(dtype).max + 1, dtype=dtype)
    if not with_numpy:
        monkeypatch.setitem(sys.modules, "numpy", None)  # an editor Python without numpy
    doc = FakeDocument(depth, values.tobytes(), width=len(values) // 4, profile=LINEAR_PROFILE)
    source = document.read_active_layer(doc)
    assert source.linear and source.dtype == "f32"
    assert document.add_result_layer(source, source.pixels).data == values.tobytes()


def test_an_srgb_integer_document_is_sent_as_it_is():
    bgra = bytes([10, 20, 30, 255, 40, 50, 60, 128])
    source = document.read_active_layer(FakeDocument("U8", bgra, profile=SRGB_PROFILE))
    assert not source.linear and source.dtype == "u8" and source.pixels == pixels.swap_red_blue(bgra, 1)


def test_a_moved_layer_is_read_and_written_at_its_own_bounds():
    # Moved right and up so that it extends past the 2×1 canvas: nothing is clipped or padded.
    rect = (1, -2, 3, 2)
    bgra = bytes(range(24))
    doc = FakeDocument("U8", bgra, rect=rect)
    source = document.read_active_layer(doc)
    assert (source.x, source.y, source.width, source.height) == rect
    assert source.pixels == pixels.swap_red_blue(bgra, 1)
    layer = document.add_result_layer(source, source.pixels)
    assert layer.rect == rect and layer.data == bgra


def test_an_empty_layer_is_refused():
    doc = FakeDocument("U8", b"", rect=(0, 0, 0, 0))
    with pytest.raises(document.DocumentError, match="The layer is empty"):
        document.read_active_layer(doc)


def test_a_selection_becomes_a_transparency_mask_on_the_new_layer():
    selection = object()
    doc = FakeDocument("U8", bytes(8), selection=selection)
    layer = document.add_result_layer(document.read_active_layer(doc), bytes(8))
    assert [(child.kind, child.selection) for child in layer.children] == [("transparencymask", selection)]


@pytest.mark.parametrize("matte", [None, bytes(2)], ids=["selection", "matte"])
def test_the_mask_joins_the_layer_before_the_layer_joins_the_document(monkeypatch, matte):
    """Krita records each node added to the document as one undo step: the mask must already be on the layer
    when the layer is added, so that one undo removes the result, mask and all."""
    monkeypatch.setattr(document, "new_selection", FakeSelection)
    doc = FakeDocument("U8", bytes(8), selection=object())
    layer = document.add_result_layer(document.read_active_layer(doc), bytes(8), matte)
    [mask] = layer.children
    assert doc.events == [("pixels", document.LAYER_NAME, False), ("add", mask.name),
                          ("add", document.LAYER_NAME)]


class FakeSelection:
    """A Krita selection: the bytes set on it, and the selections intersected into it."""

    def __init__(self):
        self.data, self.intersected = None, []

    def setPixelData(self, data, x, y, w, h):  # noqa: N802
        self.data = (bytes(data), x, y, w, h)

    def intersect(self, other):
        self.intersected.append(other)


@pytest.mark.parametrize("with_selection", [False, True])
def test_the_matte_becomes_the_mask_at_the_layers_bounds_intersected_with_a_selection(monkeypatch, with_selection):
    monkeypatch.setattr(document, "new_selection", FakeSelection)
    selection = object() if with_selection else None
    rect = (1, -2, 3, 2)
    doc = FakeDocument("U8", bytes(24), selection=selection, rect=rect)
    matte = bytes(range(6))
    layer = document.add_result_layer(document.read_active_layer(doc), bytes(24), matte)
    [mask] = layer.children
    assert (mask.kind, mask.name) == ("transparencymask", document.MATTE_MASK_NAME)
    assert mask.selection.data == (matte, *rect)
    assert mask.selection.intersected == ([selection] if with_selection else [])


def test_group_layers_are_read_from_their_projection():
    doc = FakeDocument("U8", bytes(8))
    group = FakeNode("group", "grouplayer", data=b"", projection=bytes(range(8)), document=doc)
    doc.root.addChildNode(group, None)
    doc.active = group
    assert document.read_active_layer(doc).pixels == pixels.swap_red_blue(bytes(range(8)), 1)


@pytest.mark.parametrize("doc, text", [
    (None, "Open an image"),
    (FakeDocument("U8", bytes(8), model="CMYKA"), "RGB documents"),
    (FakeDocument("U8", bytes(8), active=FakeNode("m", "transparencymask")), "not a mask"),
    (FakeDocument("U8", bytes(5)), "returned 5 bytes"),
])
def test_unusable_documents_raise_a_message(doc, text):
    with pytest.raises(document.DocumentError, match=text):
        document.read_active_layer(doc)


def test_without_an_active_node_a_single_layer_is_used_and_two_are_ambiguous():
    doc = FakeDocument("U8", bytes(8), active=None)
    with pytest.raises(document.DocumentError, match="Select a layer"):
        document.read_active_layer(doc)  # background and photo: which one?
    doc.root.children.remove(doc.root.children[0])
    assert document.read_active_layer(doc).node is doc.photo


# --- settings -------------------------------------------------------------------------------------------

def test_docker_settings_defaults_and_validation(tmp_path):
    settings_file = tmp_path / "krita-docker.json"
    settings_file.write_text('{"strength": 7, "whole_image": true, "address": "udp://x"}')
    docker_settings = krita_settings(settings_file)
    problems = docker_settings.load()
    assert docker_settings["whole_image"] is True
    assert docker_settings["strength"] == 1.0 and docker_settings["address"] == ""
    assert len(problems) == 2


def test_docker_options_default_to_the_request_types_and_travel_as_options(tmp_path):
    settings_file = tmp_path / "krita-docker.json"
    docker_settings = krita_settings(settings_file)
    assert options_of(docker_settings) == Options()
    assert docker_settings["red_eye"] is True and docker_settings["with_matte"] is False
    for name, value in [("background", "lift"), ("red_eye", False), ("with_matte", True), ("strength", 0.5)]:
        docker_settings.set(name, value)
    docker_settings.save()
    remembered = krita_settings(settings_file)
    assert remembered.load() == []
    assert options_of(remembered) == Options(strength=0.5, background="lift", red_eye=False, with_matte=True)
    settings_file.write_text('{"background": "paint", "red_eye": "yes"}')
    problems = remembered.load()
    assert len(problems) == 2 and options_of(remembered).background == "lift"  # bad values keep the last good


def test_desktop_file_names_the_package():
    desktop = configparser.ConfigParser()
    desktop.read(REPO / "krita_plugin" / "deepflash.desktop")
    entry = desktop["Desktop Entry"]
    assert entry["X-KDE-Library"] == "deepflash" and entry["ServiceTypes"] == "Krita/PythonPlugin"
    assert (REPO / "krita_plugin" / "deepflash" / "__init__.py").is_file()


def test_package_imports_outside_krita_without_registering():
    import deepflash_krita.deepflash as package

    assert package.Krita is None


# --- the Look: a preset in the docker's settings, or a layer of any open document as the reference -----------

def test_the_docker_remembers_a_look_and_sends_it_refusing_what_is_no_look_name(tmp_path):
    settings_file = tmp_path / "krita-docker.json"
    docker_settings = krita_settings(settings_file)
    docker_settings.set("look", "neutral-studio")
    docker_settings.save()
    remembered = krita_settings(settings_file)
    assert remembered.load() == [] and options_of(remembered).look == "neutral-studio"
    settings_file.write_text('{"look": "../../etc"}')
    assert len(remembered.load()) == 1 and options_of(remembered).look == "neutral-studio"
    settings_file.write_text('{"look": [1, 2]}')
    assert len(remembered.load()) == 1


class NamedDocument(FakeDocument):
    """A fake document whose nodes answer ``name()`` as Krita's do (the other tests read ``.name``)."""

    def __init__(self, file_name, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.file_name = file_name
        for node in [self.root, *self.root.children]:
            label = node.name
            node.name = lambda label=label: label

    def name(self):
        return ""  # Krita's title: empty for a photo opened from a file

    def fileName(self):  # noqa: N802
        return f"/home/someone/Pictures/{self.file_name}"


def test_every_image_layer_of_every_open_document_can_be_the_reference_groups_included():
    photo = NamedDocument("flash.kra", "U8", bytes(8))
    studio = NamedDocument("studio.kra", "U16", bytes(16))
    group = FakeNode("retouch", "grouplayer", document=studio)
    inner = FakeNode("skin", data=bytes(16), document=studio)
    group.addChildNode(inner, None)
    studio.root.addChildNode(group, None)
    group.name, inner.name = (lambda: "retouch"), (lambda: "skin")
    choices = document.image_layers([photo, studio])
    assert [label for _, _, label in choices] == ["flash.kra — background", "flash.kra — photo",
                                                   "studio.kra — background", "studio.kra — photo",
                                                   "studio.kra — retouch", "studio.kra — skin"]
    assert all(node.type() != "transparencymask" for _, node, _ in choices)


def test_a_reference_layer_of_a_16_bit_document_is_read_in_the_protocols_layout_and_left_alone():
    bgra16 = struct.pack("<8H", 100, 200, 300, 65535, 400, 500, 600, 1000)
    studio = FakeDocument("U16", bgra16)
    layer = document.read_layer(studio, studio.photo)
    assert (layer.width, layer.height, layer.layout.protocol_dtype) == (2, 1, "u16")
    assert struct.unpack("<8H", layer.pixels) == (300, 200, 100, 65535, 600, 500, 400, 1000)
    assert studio.photo.data == bgra16 and studio.events == []
