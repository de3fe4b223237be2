"""Host side of the real-editor tests: fixtures, a tiny model, and the checks on what the editors produced.

Runs with the DeepFlash environment's Python; the editors run in the trixie root and only
exchange files with this script (under the root's /tmp/deepflash-editors).

    python tests/editors/host_side.py prepare WORK_DIR          # portraits, 16-bit copy, no-face image, model
    python tests/editors/host_side.py cases WORK_DIR ADDRESS    # the case list, for a server at ADDRESS
    python tests/editors/host_side.py check WORK_DIR gimp krita  # assert on the editors' dumps
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from deepflash_app.examples import FOLDER as EXAMPLES  # noqa: E402
from deepflash_client.options import Options  # noqa: E402
from deepflash_client.zmq_client import DeepFlashClient  # noqa: E402

PORTRAIT = EXAMPLES / "congress_A000014.jpg"
REFERENCE = EXAMPLES / "congress_A000055.jpg"  # another person's portrait: the look's reference
PRESET = "warm-studio"  # a preset that is not the default (DEFAULT_LOOK)
SELECTION = (40, 30, 120, 150)  # x, y, width, height: covers the face of PORTRAIT
MOVED_TO = (60, 40)  # the "moved" case's layer offset: the layer then extends past the canvas
FACE_LEVELS = 0.5  # a deeper document's face may differ from the 8-bit document's by this mean (of 255)
OUTSIDE_FLOAT_LEVELS = 1e-3  # outside the person a float document keeps its values but for float rounding
MASK_LEVELS = 2  # a mask may differ from the matte by this (GIMP stores an 8-bit image's mask perceptually)


def cases(address: str) -> list[dict]:
    """The runs each editor performs; the same list drives the editors and the checks.

    Float cases convert the 8-bit portrait to the precision and transfer ("linear" or "srgb") in the
    editor, as a user would, so their result must look like the 8-bit document's. The server-down
    case has no address: the editor side picks a port that nothing listens on at that moment.
    """
    portrait = {"image": "portrait8.png", "mode": "faces", "address": address, "expect": "ok"}
    return [
        {"name": "rgba8", **portrait},
        {"name": "rgb16", **portrait, "image": "portrait16.png", "precision": "u16"},
        {"name": "u16_linear", **portrait, "precision": "u16", "transfer": "linear"},
        {"name": "u16_srgb", **portrait, "precision": "u16", "transfer": "srgb"},
        {"name": "f16_linear", **portrait, "precision": "f16", "transfer": "linear"},
        {"name": "f32_linear", **portrait, "precision": "f32", "transfer": "linear"},
        {"name": "f32_srgb", **portrait, "precision": "f32", "transfer": "srgb"},
        {"name": "selection", **portrait, "select": list(SELECTION)},
        {"name": "moved", **portrait, "move_to": list(MOVED_TO)},
        {"name": "matte_mask", **portrait, "matte": True},
        {"name": "matte_selection", **portrait, "matte": True, "select": list(SELECTION)},
        {"name": "noface", "image": "noface.png", "mode": "faces", "address": address, "expect": "no_face"},
        {"name": "noface_whole", "image": "noface.png", "mode": "whole", "address": address, "expect": "ok"},
        {"name": "server_down", **portrait, "address": "", "expect": "server_down"},
        {"name": "look_preset", **portrait, "look": PRESET},
        {"name": "look_reference", **portrait, "look": "reference", "reference": "reference.png"},
        {"name": "look_grey_ref", **portrait, "look": "reference", "reference": "grey_reference.png",
         "expect": "bad_reference"},
    ]


def prepare(work: Path) -> None:
    """Write the test images and the tiny random model into ``work``."""
    import torch

    from deepflash_core.network import unet, weights

    work.mkdir(parents=True, exist_ok=True)
    bgr = cv2.imread(str(PORTRAIT), cv2.IMREAD_COLOR)
    alpha = np.full(bgr.shape[:2] + (1,), 255, np.uint8)
    alpha[:8] = 200  # a partly transparent band: alpha must come back untouched
    cv2.imwrite(str(work / "portrait8.png"), np.concatenate([bgr, alpha], axis=2))
    rng = np.random.default_rng(0)
    deep = bgr.astype(np.uint16) * 257 + rng.integers(0, 257, bgr.shape, dtype=np.uint16)  # real 16-bit detail
    cv2.imwrite(str(work / "portrait16.png"), deep)
    # Krita's PNG import asks about 16-bit files without a profile, so Krita builds these documents from
    # raw pixelData instead (integer depths B,G,R,A; float R,G,B,A).
    deep_bgra = np.concatenate([deep, np.full(deep.shape[:2] + (1,), 65535, np.uint16)], axis=2)
    deep_bgra.astype("<u2").tofile(work / "krita_u16.raw")
    ramp = np.linspace(40, 220, 160, dtype=np.float32)
    flat = np.stack([np.tile(ramp, (120, 1))] * 3, axis=2).astype(np.uint8)
    cv2.imwrite(str(work / "noface.png"), flat)
    reference = cv2.imread(str(REFERENCE), cv2.IMREAD_COLOR)
    cv2.imwrite(str(work / "reference.png"), reference)
    grey = cv2.cvtColor(cv2.cvtColor(reference, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    cv2.imwrite(str(work / "grey_reference.png"), grey)  # an RGB file without colour: refused, in one line
    torch.manual_seed(0)
    model = unet.FlashUNet(unet.ModelConfig(width=0.125, input_size=64))
    torch.nn.init.xavier_uniform_(model.head.weight)  # a fresh network is "no change"; the tests must see a change
    weights.save_model(model, weights.ModelCard.for_model(model, name="editor-test-random"), work / "tiny.safetensors")
    print(f"prepared {work}")


def _load_raw(path: Path, meta: dict) -> np.ndarray:
    """A dump as R,G,B(,A) samples (Krita's integer depths are stored B,G,R,A)."""
    dtype = {"u8": np.uint8, "u16": np.uint16, "f16": np.float16, "f32": np.float32}[meta["dtype"]]
    pixels = np.fromfile(path, dtype=dtype).reshape(meta["height"], meta["width"], meta["channels"])
    return pixels[..., [2, 1, 0, 3]] if meta.get("order") == "bgra" else pixels


def check(work: Path, editor: str) -> list[str]:
    """Check one editor's results; returns failure lines (empty when all passed) and prints a table."""
    failures = []
    all_cases = json.loads((work / "cases.json").read_text())
    client = DeepFlashClient(all_cases[0]["address"], timeout_s=120)
    reference = {}  # the 8-bit document's new layer, what float documents must look like
    for case in all_cases:
        folder = work / "out" / editor / case["name"]
        result_file = folder / "result.json"
        if not result_file.is_file():
            failures.append(f"{editor}/{case['name']}: no result.json (the editor run did not finish)")
            continue
        result = json.loads(result_file.read_text())
        line = f"{editor:5} {case['name']:12} expect={case['expect']:11} got={result['outcome']:11}"
        problems, notes = [], []
        if result["outcome"] != case["expect"]:
            problems.append(f"outcome {result['outcome']} ({result.get('message')})")
        elif case["expect"] != "ok":
            if result["layers_after"] != result["layers_before"]:
                problems.append(f"layers changed on failure: {result['layers_after']}")
            needle = {"no_face": "No face", "server_down": "No DeepFlash server",
                      "bad_reference": "The reference is greyscale"}[case["expect"]]
            if needle not in (result.get("message") or ""):
                problems.append(f"message lacks {needle!r}: {result.get('message')!r}")
        else:
            problems += _check_success(folder, result, case, client, reference, notes)
        status = "PASS" if not problems else "FAIL"
        print(f"{line} {status}  {result.get('seconds', 0):.1f}s  {(result.get('message') or '')[:90]}")
        for note in notes:
            print(f"      {note}")
        failures += [f"{editor}/{case['name']}: {problem}" for problem in problems]
    return failures


def _encode(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer function, mirrored below zero (float documents may hold negative values)."""
    magnitude = np.abs(linear)
    curve = np.where(magnitude <= 0.0031308, magnitude * 12.92, 1.055 * magnitude ** (1 / 2.4) - 0.055)
    return np.copysign(curve, linear)


def _decode(encoded: np.ndarray) -> np.ndarray:
    magnitude = np.abs(encoded)
    curve = np.where(magnitude <= 0.04045, magnitude / 12.92, ((magnitude + 0.055) / 1.055) ** 2.4)
    return np.copysign(curve, encoded)


def _with_rgb(pixels: np.ndarray, transform) -> np.ndarray:
    out = pixels.astype(np.float64)
    out[..., :3] = transform(out[..., :3])
    return out


def _scale(dtype: str) -> float:
    """The sample value of white: 255, 65535, or 1 for floats."""
    return {"u8": 255.0, "u16": 65535.0}.get(dtype, 1.0)


def _levels(pixels: np.ndarray, linear: bool) -> np.ndarray:
    """sRGB-encoded values in levels of 255, whatever the dump's type and transfer."""
    normal = pixels / np.iinfo(pixels.dtype).max if pixels.dtype.kind == "u" else pixels.astype(np.float64)
    return (_with_rgb(normal, _encode) if linear else normal.astype(np.float64)) * 255


def _check_success(folder: Path, result: dict, case: dict, client: DeepFlashClient, reference: dict,
                   notes: list[str]) -> list[str]:
    problems = []
    if len(result["layers_after"]) != len(result["layers_before"]) + 1:
        problems.append(f"expected one new layer: {result['layers_before']} -> {result['layers_after']}")
    if not result.get("new_layer_above_original"):
        problems.append(f"the new layer is not right above the original: {result['layers_after']}")
    if result["bounds_new"] != result["bounds_original"]:
        problems.append(f"the new layer covers {result['bounds_new']}, the original {result['bounds_original']}")
        return problems  # the pixels cannot be compared
    if case.get("move_to") and result["bounds_original"][:2] != case["move_to"]:
        problems.append(f"the original was not moved to {case['move_to']}: {result['bounds_original']}")
    meta = result["pixels"]
    before = _load_raw(folder / "original_before.raw", meta)
    after = _load_raw(folder / "original_after.raw", meta)
    new = _load_raw(folder / "new_layer.raw", meta)
    if not np.array_equal(before, after):
        problems.append("the original layer changed")
    # Krita's dumps are the document's own values (with its profile named); GIMP's are read as R'G'B'.
    linear = case.get("transfer") == "linear" and "profile" in result
    if linear and "g10" not in result["profile"]:
        problems.append(f"a linear case got the profile {result['profile']!r}")
    # A linear document is sent as sRGB-encoded floats at any depth; the result is decoded to its depth.
    scale = _scale(meta["dtype"])
    sent, wire_dtype = (_with_rgb(before / scale, _encode), "f32") if linear else (before, meta["dtype"])
    if wire_dtype in ("f16", "f32"):
        sent, wire_dtype = sent.astype(np.float32), "f32"
    # The matte is always asked for: outside the person (where it is 0) nothing may change.
    options = Options(whole_image=case["mode"] == "whole", with_matte=True)
    if case.get("look"):
        problems += _check_look(folder, result, case, client, notes)
        options = dataclasses.replace(options, look=_requested_look(work_of(folder), case, client))

    def direct_output(options: Options) -> tuple[np.ndarray, Any]:
        reply = client.process(np.ascontiguousarray(sent), width=meta["width"], height=meta["height"],
                               channels=meta["channels"], dtype=wire_dtype, options=options)
        return np.frombuffer(reply.pixels, dtype=sent.dtype).reshape(new.shape), reply

    direct, reply = direct_output(options)
    if case.get("look") and np.array_equal(direct, direct_output(dataclasses.replace(options, look=Options().look))[0]):
        problems.append(f"the look {options.look} gives the default look's output: the test would not notice it")
    expected = _with_rgb(direct, _decode) * scale if linear else direct.astype(np.float64)
    # A half-float document (GIMP's read as f32) keeps what it is written to half precision.
    half = meta["dtype"] == "f16" or case.get("precision") == "f16"
    tolerance = 1e-3 if half else {"u8": 1, "u16": 1, "f32": 1e-5}[meta["dtype"]]
    if meta["dtype"] == "u16" and case.get("transfer") == "linear" and not linear:
        tolerance = 8  # GIMP stores a linear 16-bit image linear: R'G'B' read back loses a few of 65535 in the darks
    difference = np.abs(expected - new.astype(np.float64)).max()
    if difference > tolerance:
        problems.append(f"new layer differs from the server's direct output by {difference}")
    if np.array_equal(direct, sent):
        problems.append("the server's output equals the input: the test would not notice a copy")
    if case["mode"] == "faces":
        # Outside the person (where the subject matte is 0) the new layer holds the document's own values
        # (a float document's to the rounding of its transfer curve there and back).
        outside = np.frombuffer(reply.matte, dtype=np.uint8).reshape(new.shape[:2]) == 0
        changed = np.abs(_levels(new, linear)[outside] - _levels(before, linear)[outside]).max()
        notes.append(f"outside the person ({outside.mean():.0%} of the layer): max change {changed:.2g} levels")
        if not outside.any() or changed > (0 if before.dtype.kind == "u" else OUTSIDE_FLOAT_LEVELS):
            problems.append(f"outside the person the new layer changed by up to {changed:.2g} levels")
    if case["name"] == "rgba8":
        reference.update(before=_levels(before, False), new=_levels(new, False))
    elif case.get("transfer") and reference:
        problems += _compare_with_8bit(_levels(before, linear), _levels(new, linear), reference, notes)
    if case.get("select") or case.get("matte"):
        problems += _check_mask(folder, result, case, meta, reply.matte, notes)
    elif result.get("has_mask"):
        problems.append("the new layer has a mask without a selection or a matte")
    return problems


def work_of(folder: Path) -> Path:
    return folder.parents[2]  # WORK/out/EDITOR/CASE


def _requested_look(work: Path, case: dict, client: DeepFlashClient) -> Any:
    """What the editor should have sent as the look: the preset's name, or the reference file's look as the
    server describes it (the editors send the reference layer's pixels; alpha plays no part)."""
    if case["look"] != "reference":
        return case["look"]
    rgb = np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(work / case["reference"]), cv2.IMREAD_COLOR),
                                            cv2.COLOR_BGR2RGB))
    return client.describe_look(rgb, rgb.shape[1], rgb.shape[0], 3, "u8")


def _check_look(folder: Path, result: dict, case: dict, client: DeepFlashClient, notes: list[str]) -> list[str]:
    """A look case: the reference's document untouched; the look shown in the note."""
    problems = []
    if case.get("reference") and result.get("reference_layers_after") != result.get("reference_layers_before"):
        problems.append(f"the reference's layers changed: {result.get('reference_layers_before')} -> "
                        f"{result.get('reference_layers_after')}")
    notes.append(f"look {case['look']}" + (f" from {case['reference']}" if case.get("reference") else ""))
    return problems


def _check_mask(folder: Path, result: dict, case: dict, meta: dict, matte: bytes | None,
                notes: list[str]) -> list[str]:
    """The new layer's mask: the selection, the matte, or where both are (the lesser value)."""
    if not result.get("has_mask"):
        return ["the new layer has no mask"]
    mask = np.fromfile(folder / "mask.raw", dtype=np.uint8).reshape(meta["height"], meta["width"])
    expected = np.full_like(mask, 255)
    if case.get("select"):
        x, y, w, h = case["select"]
        expected[:] = 0
        expected[y:y + h, x:x + w] = 255
    if case.get("matte"):
        if matte is None:
            return ["the server sent no matte"]
        subject = np.frombuffer(matte, dtype=np.uint8).reshape(mask.shape)
        if subject.min() == subject.max():
            return ["the matte is flat: the test would not notice a wrong mask"]
        expected = np.minimum(expected, subject)
    difference = np.abs(mask.astype(int) - expected.astype(int))
    notes.append(f"mask vs expected: max {difference.max()} levels, {(difference > 0).sum()} pixels differ")
    if difference.max() > (MASK_LEVELS if case.get("matte") else 0):
        return [f"mask differs from the expected one by up to {difference.max()} levels "
                f"in {(difference > 0).sum()} pixels"]
    return []


def _compare_with_8bit(before: np.ndarray, new: np.ndarray, reference: dict, notes: list[str]) -> list[str]:
    """A float document of the same picture must get the 8-bit document's result (face region, RGB)."""
    x, y, w, h = SELECTION
    face = (slice(y, y + h), slice(x, x + w), slice(0, 3))
    source = np.abs(before[face] - reference["before"][face]).mean()
    difference = np.abs(new[face] - reference["new"][face])
    notes.append(f"face vs the 8-bit result: mean {difference.mean():.2f}, max {difference.max():.1f} levels "
                 f"(input mean {source:.2f})")
    problems = []
    if source > 0.5:
        problems.append(f"the float document does not hold the 8-bit picture (face mean {source:.2f} levels)")
    if difference.mean() > FACE_LEVELS:
        problems.append(f"face differs from the 8-bit result by {difference.mean():.2f} levels on average")
    return problems


def main() -> int:
    command, work = sys.argv[1], Path(sys.argv[2])
    if command == "prepare":
        prepare(work)
        return 0
    if command == "cases":
        (work / "cases.json").write_text(json.dumps(cases(sys.argv[3]), indent=1))
        return 0
    failures = []
    for editor in sys.argv[3:]:
        failures += check(work, editor)
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
