"""Runs inside kritarunner: each case of cases.json through the installed DeepFlash docker.

The docker widget itself is created and its Apply is driven (its worker thread, signals and
layer code all run for real); the harness only waits for the worker's result. Dumps are raw
``pixelData`` bytes of each layer's bounds (B,G,R,A for integer depths; float ones R,G,B,A in the
document's profile, linear by default); the host converts and asserts.
"""

import json
import os
import sys
import time
from pathlib import Path

from editor_side import case_address  # copied beside this file
from krita import Krita, Selection

WORK = Path(os.environ.get("DEEPFLASH_EDITOR_WORK", "/tmp/deepflash-editors"))
PYKRITA = Path.home() / ".local" / "share" / "krita" / "pykrita"
_LAYERS = {"paintlayer", "grouplayer", "filelayer", "vectorlayer", "clonelayer"}


def _names(document):
    return [node.name() for node in document.topLevelNodes() if node.type() in _LAYERS]


# Krita's own profiles; "" picks the colour space's default, linear for 16-bit and float RGB.
_PROFILES = {"linear": "", "srgb": "sRGB-elle-V2-srgbtrc.icc"}


def _open(case):
    """The case's document: 16-bit from the host's raw dump (Krita asks questions when importing 16-bit
    PNGs), float converted from the 8-bit portrait as Image → Convert Image Color Space would."""
    precision = case.get("precision")
    if precision == "u16" and not case.get("transfer"):
        raw = (WORK / "krita_u16.raw").read_bytes()
        probe = Krita.instance().openDocument(str(WORK / "portrait8.png"))  # same size as the raw dump
        width, height = probe.width(), probe.height()
        probe.close()
        # The dump holds sRGB-encoded values: the document gets the sRGB profile (the default is linear).
        document = Krita.instance().createDocument(width, height, "portrait-U16", "RGBA", "U16", _PROFILES["srgb"], 72.0)
        document.topLevelNodes()[0].setPixelData(raw, 0, 0, width, height)
        return document
    document = Krita.instance().openDocument(str(WORK / case["image"]))
    if precision:
        document.setColorSpace("RGBA", precision.upper(), _PROFILES[case["transfer"]])
        document.waitForDone()
    if case.get("move_to"):
        document.topLevelNodes()[0].move(*case["move_to"])
        document.waitForDone()
    return document


def _bounds(node):
    rect = node.bounds()
    return [rect.x(), rect.y(), rect.width(), rect.height()]


def _dump(node, path):
    path.write_bytes(bytes(node.pixelData(*_bounds(node))))


def _wait(docker, timeout_s=180):
    from deepflash.qt import QtWidgets

    deadline = time.monotonic() + timeout_s
    while docker.job_thread is not None and time.monotonic() < deadline:
        QtWidgets.QApplication.processEvents()
        time.sleep(0.02)
    QtWidgets.QApplication.processEvents()


def run_case(docker, case):
    out = WORK / "out" / "krita" / case["name"]
    out.mkdir(parents=True, exist_ok=True)
    document = _open(case)
    document.setBatchmode(True)
    original = document.topLevelNodes()[0]
    depth = document.colorDepth()
    _, _, width, height = bounds = _bounds(original)
    _dump(original, out / "original_before.raw")
    if case.get("select"):
        x, y, w, h = case["select"]
        selection = Selection()
        selection.select(x, y, w, h, 255)
        document.setSelection(selection)
    before = _names(document)
    docker.faces_only.setChecked(case["mode"] == "faces")
    docker.matte_mask.setChecked(case.get("matte", False))
    docker.start_server.setChecked(False)
    docker.strength_slider.setValue(100)
    names = [entry.name for entry in docker.look_entries]
    docker.look.setCurrentIndex(names.index(case.get("look") or names[0]))
    reference = None
    if case.get("reference"):  # another open document, as a user would have it
        reference = Krita.instance().openDocument(str(WORK / case["reference"]))
        reference_before = _names(reference)
        docker.choose_reference(reference, reference.topLevelNodes()[0])
    with case_address(case) as address:
        docker.settings.set("address", address)
        started = time.monotonic()
        docker.apply(document)
        _wait(docker)
        seconds = time.monotonic() - started
    message = docker.message_label.text()
    after = _names(document)
    result = {"message": message, "seconds": seconds, "layers_before": before, "layers_after": after,
              "depth": depth, "model": document.colorModel(), "profile": document.colorProfile(),
              "bounds_original": bounds,
              "pixels": {"width": width, "height": height, "channels": 4,
                         "dtype": {"U8": "u8", "U16": "u16", "F32": "f32", "F16": "f16"}[depth],
                         "order": "bgra" if depth in ("U8", "U16") else "rgba"}}
    if reference is not None:
        result.update(reference_layers_before=reference_before, reference_layers_after=_names(reference))
        reference.close()
    new = [node for node in document.topLevelNodes() if node.name() == "Studio light (DeepFlash)"]
    if new:
        result["outcome"] = "ok"
        nodes = [node.name() for node in original.parentNode().childNodes()]  # Krita lists bottom first
        result["new_layer_above_original"] = nodes.index(new[0].name()) == nodes.index(original.name()) + 1
        result["bounds_new"] = _bounds(new[0])
        _dump(new[0], out / "new_layer.raw")
        _dump(original, out / "original_after.raw")
        masks = [child for child in new[0].childNodes() if child.type() == "transparencymask"]
        result["has_mask"] = bool(masks)
        if masks:
            (out / "mask.raw").write_bytes(bytes(masks[0].pixelData(*bounds)))
        document.refreshProjection()
        document.exportImage(str(out / "export.png"), __import__("krita").InfoObject())
    else:
        result["outcome"] = ("no_face" if "No face" in message else "bad_reference" if "The reference" in message else
                             "server_down" if "No DeepFlash server" in message else "error")
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(f"krita case {case['name']}: {result['outcome']} in {seconds:.2f} s; {message[:120]}", flush=True)
    document.close()


def main(*args):
    if str(PYKRITA) not in sys.path:
        sys.path.append(str(PYKRITA))
    from deepflash.docker import DeepFlashDocker

    docker = DeepFlashDocker()
    docker.timer.stop()  # no periodic status checks during the run
    docker.settings.path = WORK / "krita-batch-settings.json"  # leave the user's docker settings alone
    for case in json.loads((WORK / "cases.json").read_text()):
        try:
            run_case(docker, case)
        except Exception as error:  # keep going: the host check reports the missing result
            import traceback

            print(f"krita case {case['name']} crashed: {error}", flush=True)
            traceback.print_exc()
