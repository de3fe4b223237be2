"""Runs inside gimp-console-3.0 (python-fu-eval): each case of cases.json through the installed plug-in.

For every case: open the image, select if asked, call ``python-fu-deepflash`` non-interactively,
dump the original layer before and after, the new layer and its mask as raw bytes, export the
image, and write result.json. The host (host_side.py check) does the asserting.
"""

import json
import os
import sys
import time
from pathlib import Path

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

WORK = Path(os.environ.get("DEEPFLASH_EDITOR_WORK", "/tmp/deepflash-editors"))
sys.path.insert(0, str(WORK))
from editor_side import case_address  # noqa: E402  (copied beside this file)

# Deeper cases: the 8-bit portrait converted to the precision, keeping its look.
PRECISIONS = {("u16", "linear"): Gimp.Precision.U16_LINEAR, ("u16", "srgb"): Gimp.Precision.U16_NON_LINEAR,
              ("f16", "linear"): Gimp.Precision.HALF_LINEAR, ("f16", "srgb"): Gimp.Precision.HALF_NON_LINEAR,
              ("f32", "linear"): Gimp.Precision.FLOAT_LINEAR, ("f32", "srgb"): Gimp.Precision.FLOAT_NON_LINEAR}


def _format(image, drawable):
    kind = image.get_precision().value_name.removeprefix("GIMP_PRECISION_").split("_")[0]
    dtype, babl = {"U8": ("u8", "u8"), "U16": ("u16", "u16")}.get(kind, ("f32", "float"))
    alpha = drawable.has_alpha()
    return f"R'G'B'{'A' if alpha else ''} {babl}", dtype, 4 if alpha else 3


def _dump(drawable, fmt, path):
    buffer = drawable.get_buffer()
    path.write_bytes(bytes(buffer.get(buffer.get_extent(), 1.0, fmt, Gegl.AbyssPolicy.CLAMP)))


def _bounds(layer):
    _, x, y = layer.get_offsets()
    return [x, y, layer.get_width(), layer.get_height()]


def _names(image):
    return [layer.get_name() for layer in image.get_layers()]


def run_case(case):
    out = WORK / "out" / "gimp" / case["name"]
    out.mkdir(parents=True, exist_ok=True)
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(str(WORK / case["image"])))
    if case.get("transfer"):
        image.convert_precision(PRECISIONS[case["precision"], case["transfer"]])
    original = image.get_layers()[0]
    if case.get("move_to"):
        original.set_offsets(*case["move_to"])
    fmt, dtype, channels = _format(image, original)
    _dump(original, fmt, out / "original_before.raw")
    if case.get("select"):
        x, y, w, h = case["select"]
        image.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
    before = _names(image)
    procedure = Gimp.get_pdb().lookup_procedure("python-fu-deepflash")
    config = procedure.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [original])
    config.set_property("strength", 1.0)
    config.set_property("mode", case["mode"])
    config.set_property("background", "keep")
    config.set_property("red-eye", True)
    config.set_property("matte-mask", case.get("matte", False))
    config.set_property("start-server", False)
    reference = None
    if case.get("look"):
        config.set_property("look", case["look"])
    if case.get("reference"):  # another open image, as a user would have it
        reference = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(str(WORK / case["reference"])))
        config.set_property("reference-layer", reference.get_layers()[0])
        reference_before = _names(reference)
    with case_address(case) as address:
        config.set_property("address", address)
        started = time.monotonic()
        values = procedure.run(config)
        seconds = time.monotonic() - started
    status = values.index(0)
    message = values.index(1) if values.length() > 1 else ""
    layers = image.get_layers()
    after = [layer.get_name() for layer in layers]
    result = {"status": status.value_name, "message": str(message or ""), "seconds": seconds,
              "layers_before": before, "layers_after": after, "precision": image.get_precision().value_name,
              "bounds_original": _bounds(original),
              "pixels": {"width": original.get_width(), "height": original.get_height(), "channels": channels,
                         "dtype": dtype}}
    if reference is not None:
        result.update(reference_layers_before=reference_before, reference_layers_after=_names(reference))
        reference.delete()
    if status == Gimp.PDBStatusType.SUCCESS:
        result["outcome"] = "ok"
        new = layers[0]
        result["bounds_new"] = _bounds(new)
        # GIMP lists layers top first.
        result["new_layer_above_original"] = image.get_item_position(new) == image.get_item_position(original) - 1
        _dump(new, fmt, out / "new_layer.raw")
        _dump(original, fmt, out / "original_after.raw")
        mask = new.get_mask()
        result["has_mask"] = mask is not None
        if mask is not None:
            _dump(mask, "Y u8", out / "mask.raw")
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(str(out / "result.xcf")), None)
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(str(out / "export.png")), None)
    else:
        text = result["message"]
        result["outcome"] = ("no_face" if "No face" in text else "bad_reference" if "The reference" in text else
                             "server_down" if "No DeepFlash server" in text else "error")
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(f"gimp case {case['name']}: {result['outcome']} in {seconds:.2f} s; {result['message'][:120]}", flush=True)
    image.delete()


for _case in json.loads((WORK / "cases.json").read_text()):
    try:
        run_case(_case)
    except Exception as _error:  # keep going: the host check reports the missing result
        import traceback

        print(f"gimp case {_case['name']} crashed: {_error}", flush=True)
        traceback.print_exc()
