"""Host side of the real-editor tests: fixtures, a tiny model, and the checks on what the editors produced.

Runs with the DeepFlash environment's Python; the editors run in the trixie root and only
exchange files with this script (under the root's /tmp/deepflash-editors).

    python tests/editors/host_side.py prepare WORK_DIR        # portraits, 16-bit copy, no-face image, model
    python tests/editors/host_side.py check WORK_DIR gimp krita  # assert on the editors' dumps
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from deepflash_core.client import DeepFlashClient  # noqa: E402
from deepflash_core.options import Options  # noqa: E402

PORTRAIT = REPO / "tests" / "fixtures" / "congress_A000014.jpg"
SELECTION = (40, 30, 120, 150)  # x, y, width, height: covers the face of PORTRAIT
SERVER_PORT = 5591
DOWN_PORT = 5599  # nothing listens there


def cases(address: str, down_address: str) -> list[dict]:
    """The runs each editor performs; the same list drives the editors and the checks."""
    return [
        {"name": "rgba8", "image": "portrait8.png", "mode": "faces", "address": address, "expect": "ok"},
        {"name": "rgb16", "image": "portrait16.png", "precision": "u16", "mode": "faces", "address": address,
         "expect": "ok"},
        {"name": "f32", "image": "portrait8.png", "precision": "f32", "mode": "faces", "address": address,
         "expect": "ok"},
        {"name": "selection", "image": "portrait8.png", "mode": "faces", "address": address, "expect": "ok",
         "select": list(SELECTION)},
        {"name": "noface", "image": "noface.png", "mode": "faces", "address": address, "expect": "no_face"},
        {"name": "noface_whole", "image": "noface.png", "mode": "whole", "address": address, "expect": "ok"},
        {"name": "server_down", "image": "portrait8.png", "mode": "faces", "address": down_address,
         "expect": "server_down"},
    ]


def prepare(work: Path) -> None:
    """Write the test images, the tiny random model and the case list into ``work``."""
    import torch

    from deepflash_core import network, weights

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
    rgba = cv2.cvtColor(np.concatenate([bgr, alpha], axis=2), cv2.COLOR_BGRA2RGBA)
    (rgba.astype(np.float32) / 255).astype("<f4").tofile(work / "krita_f32.raw")
    ramp = np.linspace(40, 220, 160, dtype=np.float32)
    flat = np.stack([np.tile(ramp, (120, 1))] * 3, axis=2).astype(np.uint8)
    cv2.imwrite(str(work / "noface.png"), flat)
    torch.manual_seed(0)
    model = network.FlashUNet(network.ModelConfig(width=0.125, input_size=64))
    weights.save_model(model, weights.ModelCard.for_model(model, name="editor-test-random"), work / "tiny.safetensors")
    address = f"tcp://127.0.0.1:{SERVER_PORT}"
    (work / "cases.json").write_text(json.dumps(cases(address, f"tcp://127.0.0.1:{DOWN_PORT}"), indent=1))
    print(f"prepared {work}")


def _load_raw(path: Path, meta: dict) -> np.ndarray:
    """A dump as R,G,B(,A) samples (Krita's integer depths are stored B,G,R,A)."""
    dtype = {"u8": np.uint8, "u16": np.uint16, "f32": np.float32}[meta["dtype"]]
    pixels = np.fromfile(path, dtype=dtype).reshape(meta["height"], meta["width"], meta["channels"])
    return pixels[..., [2, 1, 0, 3]] if meta.get("order") == "bgra" else pixels


def check(work: Path, editor: str) -> list[str]:
    """Check one editor's results; returns failure lines (empty when all passed) and prints a table."""
    failures = []
    client = DeepFlashClient(json.loads((work / "cases.json").read_text())[0]["address"], timeout_s=120)
    for case in json.loads((work / "cases.json").read_text()):
        folder = work / "out" / editor / case["name"]
        result_file = folder / "result.json"
        if not result_file.is_file():
            failures.append(f"{editor}/{case['name']}: no result.json (the editor run did not finish)")
            continue
        result = json.loads(result_file.read_text())
        line = f"{editor:5} {case['name']:12} expect={case['expect']:11} got={result['outcome']:11}"
        problems = []
        if result["outcome"] != case["expect"]:
            problems.append(f"outcome {result['outcome']} ({result.get('message')})")
        if result["outcome"] != case["expect"]:
            pass
        elif case["expect"] != "ok":
            if result["layers_after"] != result["layers_before"]:
                problems.append(f"layers changed on failure: {result['layers_after']}")
            needle = {"no_face": "No face", "server_down": "No DeepFlash server"}[case["expect"]]
            if needle not in (result.get("message") or ""):
                problems.append(f"message lacks {needle!r}: {result.get('message')!r}")
        else:
            problems += _check_success(folder, result, case, client)
        status = "PASS" if not problems else "FAIL"
        print(f"{line} {status}  {result.get('seconds', 0):.1f}s  {(result.get('message') or '')[:90]}")
        failures += [f"{editor}/{case['name']}: {problem}" for problem in problems]
    return failures


def _check_success(folder: Path, result: dict, case: dict, client: DeepFlashClient) -> list[str]:
    problems = []
    if len(result["layers_after"]) != len(result["layers_before"]) + 1:
        problems.append(f"expected one new layer: {result['layers_before']} -> {result['layers_after']}")
    if not result.get("new_layer_above_original"):
        problems.append(f"the new layer is not right above the original: {result['layers_after']}")
    meta = result["pixels"]
    before = _load_raw(folder / "original_before.raw", meta)
    after = _load_raw(folder / "original_after.raw", meta)
    new = _load_raw(folder / "new_layer.raw", meta)
    if not np.array_equal(before, after):
        problems.append("the original layer changed")
    reply = client.process(np.ascontiguousarray(before), width=meta["width"], height=meta["height"],
                           channels=meta["channels"], dtype=meta["dtype"], options=Options(whole_image=case["mode"] == "whole"))
    direct = np.frombuffer(reply.pixels, dtype=new.dtype).reshape(new.shape)
    tolerance = {"u8": 1, "u16": 1, "f32": 1e-5}[meta["dtype"]]
    difference = np.abs(direct.astype(np.float64) - new.astype(np.float64)).max()
    if difference > tolerance:
        problems.append(f"new layer differs from the server's direct output by {difference}")
    if np.array_equal(direct, before):
        problems.append("the server's output equals the input: the test would not notice a copy")
    if case.get("select"):
        x, y, w, h = case["select"]
        mask = np.fromfile(folder / "mask.raw", dtype=np.uint8).reshape(meta["height"], meta["width"])
        expected = np.zeros_like(mask)
        expected[y:y + h, x:x + w] = 255
        if not np.array_equal(mask, expected):
            problems.append(f"mask differs from the selection in {(mask != expected).sum()} pixels")
    return problems


def main() -> int:
    command, work = sys.argv[1], Path(sys.argv[2])
    if command == "prepare":
        prepare(work)
        return 0
    failures = []
    for editor in sys.argv[3:]:
        failures += check(work, editor)
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
