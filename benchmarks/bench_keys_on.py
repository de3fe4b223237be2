"""What a model's correction reacts to: its size on renders with each flash component switched off in turn,
and on studio portraits made flash-like by a global change alone.

    python benchmarks/bench_keys_on.py --data PORTRAITS [--weights NAME_OR_FILE ...] [--off falloff --off ...]
        [--count 106] [--global-flash/--no-global-flash]

**Renders.** The held-out test people (one unaugmented crop each, flash seed 1234, no identity pairs) are
rendered with every flash component on, then again with one component off (``FlashRenderer(off=...)``,
the same flash parameters otherwise). For each, the model's correction over the face (landmark hull, CIELAB
means): ΔL* and ΔC* of its studio estimate ``x − 2y + 1`` against its input, beside the same figures of
the eq. 8 ground truth (what the correction should be). A component whose removal shrinks the correction
much more than it shrinks the needed one is a cue the model keys on. The last two columns: the share of
the face's L* and chroma difference between the render and the ground truth that the whole correction closes. The last row switches every listed
component off at once: what is left is the flash's flat frontal light on the portrait's albedo.

**Global flash.** The same people's untouched studio crops, made flash-like over the whole frame in CIELAB
(L* → 0.6 L* + 40, a* → 0.5 a* − 2, b* → 0.5 b* + 6: exposure up, chroma down, a yellow-green cast, no
local flash cue), through the model: the share of the face's L* and chroma difference to the original that
the correction closes (100 % = back to the original, 0 % = nothing done).

A model conditioned on looks reads what training gives it (:func:`deepflash_train.look_input`): its
input after the global look transform toward the requested look, and that look; here the requested look is
the target's own (for the global-flash test, the original portrait's). Its rows then also give the whole
correction (global transform and network) against the render itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The global flash-like change of the probe, per CIELAB channel: (scale, offset).
GLOBAL_FLASH = {"L": (0.6, 40.0), "a": (0.5, -2.0), "b": (0.5, 6.0)}


def face_means(image: np.ndarray, face: np.ndarray) -> tuple[float, float]:
    """(mean L*, mean chroma C*) of an sRGB image in [0, 1] over a boolean face mask."""
    from skimage.color import rgb2lab

    lab = rgb2lab(np.clip(image, 0.0, 1.0))[face]
    return float(lab[:, 0].mean()), float(np.hypot(lab[:, 1], lab[:, 2]).mean())


def globally_flash_like(image: np.ndarray) -> np.ndarray:
    """The whole frame moved in CIELAB by :data:`GLOBAL_FLASH` (sRGB in and out, [0, 1])."""
    from skimage.color import lab2rgb, rgb2lab

    lab = rgb2lab(np.clip(image, 0.0, 1.0))
    for channel, (scale, offset) in enumerate(GLOBAL_FLASH.values()):
        lab[..., channel] = scale * lab[..., channel] + offset
    return np.clip(lab2rgb(lab), 0.0, 1.0).astype(np.float32)


def corrections(model, items: list[dict], conditioned: bool) -> dict[str, np.ndarray]:
    """Per-item face figures: the network's input, its estimate, the eq. 8 truth, and the raw render."""
    import torch

    from deepflash_core.encoding import equations
    from deepflash_train.dataset import bilateral_image

    rows = {name: [] for name in ("input", "output", "truth", "render", "studio")}
    for item in items:
        face = item["face"] > 0.5
        x = item["input"]
        filtered = bilateral_image(x)
        batch = torch.from_numpy(filtered).permute(2, 0, 1)[None].contiguous()
        look = torch.from_numpy(item["look"])[None] if conditioned else None
        with torch.no_grad():
            y = model(batch) if look is None else model(batch, look)
        y = y[0].permute(1, 2, 0).numpy()
        estimate = np.clip(x - 2.0 * y + 1.0, 0.0, 1.0)
        truth = np.clip(x - filtered + bilateral_image(item["studio"]), 0.0, 1.0)
        for name, image in (("input", x), ("output", estimate), ("truth", truth), ("render", item["render"]),
                            ("studio", item["studio"])):
            rows[name].append(face_means(image, face))
    return {name: np.array(values) for name, values in rows.items()}


def render_items(store, size: int, seed: int, off: tuple[str, ...], conditioned: bool) -> list[dict]:
    from deepflash_train.dataset import SyntheticPairs
    from deepflash_train.renderer import FlashRenderer

    options = {"look_input": True} if conditioned else {}
    pairs = SyntheticPairs(store, FlashRenderer(off=off), size, seed=seed, augment=False, identity_pairs=False,
                           **options)
    items = []
    for index in range(len(pairs)):
        item = {k: v.permute(1, 2, 0).numpy() if v.ndim == 3 else v.numpy() for k, v in pairs[index].items()}
        # A conditioned model reads the render after the global transform toward the target's look.
        items.append({"input": item["look_flash"] if conditioned else item["flash"], "studio": item["studio"],
                      "face": item["face"][..., 0], "render": item["flash"], "look": item.get("look")})
    return items


def probe_items(store, size: int, conditioned: bool) -> list[dict]:
    """The untouched studio crops (the pipeline's crop, no augmentation), made globally flash-like."""
    from deepflash_train.dataset import (IDENTITY_AUGMENTATION, Augmentation, crop_affine, face_from_points,
                                                 face_hull, transform_points, warp_crop)

    items = []
    for index in range(len(store)):
        rgb, face = store.get(index)
        matrix = crop_affine(face, size, Augmentation.from_index(IDENTITY_AUGMENTATION))
        studio = warp_crop(rgb, matrix, size).astype(np.float32) / 255.0
        points = transform_points(face.landmarks.astype(np.float64), matrix)
        hull = face_hull(points, (size, size))
        flash_like = globally_flash_like(studio)
        item = {"input": flash_like, "studio": studio, "face": hull, "render": flash_like, "look": None}
        if conditioned:
            from deepflash_train.look_input import look_pair

            left, top, right, bottom = face.box
            corners = transform_points(np.array([[left, top], [right, bottom], [left, bottom], [right, top]]), matrix)
            crop_face = face_from_points(points, (*corners.min(axis=0), *corners.max(axis=0)), (0, 0, size, size))
            matte = warp_crop(store.matte(index), matrix, size)
            item["input"], item["look"] = look_pair(flash_like, studio, crop_face, matte)
        items.append(item)
    return items


def share_closed(start: np.ndarray, end: np.ndarray, goal: np.ndarray) -> float:
    """Share of the distance from ``start`` to ``goal`` that ``end`` covers, summed over the items."""
    needed = goal - start
    return float(np.sum((end - start) * np.sign(needed)) / max(np.sum(np.abs(needed)), 1e-9))


@click.command()
@click.option("--data", "root", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--landmarks", default="cache/landmarks_portraits.json", type=click.Path(path_type=Path))
@click.option("--weights", "weights_list", multiple=True, help="Installed model name or file (repeat); default: default.")
@click.option("--off", "components", multiple=True, help="Components to switch off one at a time (default: all).")
@click.option("--count", default=106, show_default=True, help="Test people (the whole test split by default).")
@click.option("--seed", default=1234, show_default=True)
@click.option("--global-flash/--no-global-flash", default=True, show_default=True)
def main(root: Path, landmarks: Path, weights_list: tuple[str, ...], components: tuple[str, ...], count: int,
         seed: int, global_flash: bool) -> None:
    import torch

    from deepflash_core.network.weights import load_model
    from deepflash_train.dataset import PortraitStore
    from deepflash_train.landmarks import load_landmark_cache
    from deepflash_train.renderer.params import FLASH_COMPONENTS, check_components
    from deepflash_train.split import files_in, read_split

    torch.set_num_threads(1)
    components = components or FLASH_COMPONENTS
    check_components(components)
    cache = load_landmark_cache(landmarks)["entries"]
    files = [f for f in files_in(read_split(), "test") if cache.get(f)][:count]
    for weights in weights_list or ("default",):
        model, card = load_model(weights)
        model = model.float().to(memory_format=torch.contiguous_format)
        conditioned = bool(getattr(card.config, "look_dim", 0))
        size = card.config.input_size
        store = PortraitStore(root, files, cache, size)
        print(f"\n## {card.name} ({card.architecture}, {size}², {'conditioned on the target look' if conditioned else 'no look input'})")
        print(f"{len(files)} test people, flash seed {seed}; face means over the landmark hull\n")
        head = "| renders | input L* | input C* | ΔL* model | ΔL* needed | ΔC* model | ΔC* needed |"
        if conditioned:
            head += " ΔL* whole | ΔC* whole |"
        head += " L* closed | C* closed |"
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for off in [()] + [(name,) for name in components] + [tuple(components)]:
            rows = corrections(model, render_items(store, size, seed, off, conditioned), conditioned)
            delta = rows["output"] - rows["input"]
            needed = rows["truth"] - rows["input"]
            label = "all components" if not off else f"no {off[0]}" if len(off) == 1 else "none of them"
            line = (f"| {label} | {rows['input'][:, 0].mean():.1f} | {rows['input'][:, 1].mean():.1f} | "
                    f"{delta[:, 0].mean():+.1f} | {needed[:, 0].mean():+.1f} | {delta[:, 1].mean():+.1f} | "
                    f"{needed[:, 1].mean():+.1f} |")
            if conditioned:
                whole = rows["output"] - rows["render"]
                line += f" {whole[:, 0].mean():+.1f} | {whole[:, 1].mean():+.1f} |"
            closed = [share_closed(rows["render"][:, i], rows["output"][:, i], rows["truth"][:, i]) for i in (0, 1)]
            line += f" {100 * closed[0]:.0f} % | {100 * closed[1]:.0f} % |"
            print(line, flush=True)
        if global_flash:
            rows = corrections(model, probe_items(store, size, conditioned), conditioned)
            start, end, goal = rows["render"], rows["output"], rows["studio"]
            print(f"\nglobal-flash probe ({len(files)} held-out studio portraits, L* → 0.6 L* + 40, "
                  f"a* → 0.5 a* − 2, b* → 0.5 b* + 6):")
            print(f"  face L*  original {goal[:, 0].mean():.1f}  flash-like {start[:, 0].mean():.1f}  "
                  f"output {end[:, 0].mean():.1f}  share closed {100 * share_closed(start[:, 0], end[:, 0], goal[:, 0]):.0f} %")
            print(f"  face C*  original {goal[:, 1].mean():.1f}  flash-like {start[:, 1].mean():.1f}  "
                  f"output {end[:, 1].mean():.1f}  share closed {100 * share_closed(start[:, 1], end[:, 1], goal[:, 1]):.0f} %")


if __name__ == "__main__":
    main()
