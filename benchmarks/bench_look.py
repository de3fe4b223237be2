"""Looks, measured on held-out people of the collection: fidelity, skin tone, the global-flash test, no-flash photos.

    python benchmarks/bench_look.py --data PORTRAITS [--count 16] [--weights NAME] [--only fidelity,...]

Every photo goes through the pipeline whole (``Pipeline.process``, the shipped default model unless
``--weights``), as ``deepflash process`` runs it. "today" is the network alone (``--look as-shot``: the global
part changes nothing), "global" the look stage alone (no network), "product" both.

- **fidelity**: held-out renders (512², flash input and studio target with a randomised look), the requested
  look the target's own, then two real studio portraits of held-out people as references. For each kind of
  number (face L*, chroma, hue, modelling, the light's white) the share of the input's distance to the
  requested look that the output closes; beside it the high-frequency texture change (mean |high-pass L*|
  difference to the input over the face).
- **skin**: the lightest, middle and darkest held-out people of the London set (by their own studio face L*),
  flash rendered from their untouched portraits (then the same portraits made globally flash-like), corrected
  toward the presets and the two references: each output face's CIEDE2000 to the person's own studio photo,
  and how many of the pairs of people whose own faces differ by 5 L* or more keep their lightness order.
- **global-flash**: held-out portraits made globally flash-like (L* → 0.6 L* + 40, a* → 0.5 a* − 2,
  b* → 0.5 b* + 6); share of the face's L* and chroma difference to the original closed, toward the default
  look and toward the original's own look, beside the same share on the renders.
- **no-flash**: held-out studio portraits corrected toward their own look: mean change over the face.
"""

from __future__ import annotations

import dataclasses
import os
import time

import click
import numpy as np

from look_cases import (chroma, closed, collection, face_lab, flash_like, global_part, held_out, hull_of, look_gaps,
                        read, render, share_closed, texture_change)

SECTIONS = ("fidelity", "skin", "global-flash", "no-flash")


def correct(pipe, pixels: np.ndarray, look) -> np.ndarray:
    from deepflash_client.options import Options

    return pipe.process(pixels, Options(look=look)).pixels


def fidelity(pipe, renders: list, references: list) -> None:
    from deepflash_client.options import LOOK_AS_SHOT
    from deepflash_core.look import describe

    print(f"\n### Look fidelity: {len(renders)} held-out renders, share of the distance to the requested look closed (%)")
    kinds = ("L*", "chroma", "hue", "modelling", "white")
    print("| requested | output | " + " | ".join(kinds) + " | texture change (L*) |")
    print("|---|---|" + "---|" * (len(kinds) + 1))
    asks = [("the target's own look", [describe(r.target, r.face) for r in renders])]
    asks += [(f"reference {name}", [look] * len(renders)) for name, look in references]
    today = [correct(pipe, r.flash, LOOK_AS_SHOT) for r in renders]
    for label, wanted in asks:
        before = [look_gaps(describe(r.flash, r.face), w) for r, w in zip(renders, wanted)]
        outputs = {"today (network only)": today,
                   "global part only": [global_part(r.flash, w.as_vector()) for r, w in zip(renders, wanted)],
                   "product (global + network)": [correct(pipe, r.flash, w.as_vector()) for r, w in zip(renders, wanted)]}
        for name, images in outputs.items():
            after = [look_gaps(describe(image, r.face), w) for image, r, w in zip(images, renders, wanted)]
            texture = np.mean([texture_change(image, r.flash, r.hull) for image, r in zip(images, renders)])
            print(f"| {label} | {name} | " + " | ".join(f"{closed(before, after, k):.0f}" for k in kinds)
                  + f" | {texture:.2f} |", flush=True)


def skin(pipe, people: list, references: list, inputs: str) -> None:
    from skimage.color import deltaE_ciede2000

    from deepflash_client.options import LOOK_AS_SHOT
    from deepflash_core.look.presets import preset_names

    print(f"\n### Skin tone kept: {len(people)} people (light to dark), inputs: {inputs}")
    truth = [face_lab(r.target, r.hull) for _, r in people]
    # The pairs whose own studio faces differ by 5 L* or more: their order must survive the correction.
    pairs = [(i, j) for i in range(len(people)) for j in range(len(people)) if truth[i][0] >= truth[j][0] + 5]
    print("own studio face L*: " + ", ".join(f"{name} {t[0]:.1f}" for (name, _), t in zip(people, truth)))
    print("| look | " + " | ".join(name for name, _ in people) + f" | mean ΔE00 | order kept ({len(pairs)} pairs) |")
    print("|---|" + "---|" * (len(people) + 2))
    asks = [("input (flash)", None), ("today (network only)", LOOK_AS_SHOT)] + [(n, n) for n in preset_names()]
    asks += [(f"reference {name}", look.as_vector()) for name, look in references]
    for label, look in asks:
        faces = [face_lab(r.flash if look is None else correct(pipe, r.flash, look), r.hull) for _, r in people]
        errors = [float(deltaE_ciede2000(f[None], t[None])[0]) for f, t in zip(faces, truth)]
        kept = sum(faces[i][0] > faces[j][0] for i, j in pairs)
        print(f"| {label} | " + " | ".join(f"{e:.1f}" for e in errors) + f" | {np.mean(errors):.1f} | {kept} of {len(pairs)} |",
              flush=True)


def global_flash(pipe, portraits: list, renders: list) -> None:
    from deepflash_client.options import DEFAULT_LOOK, LOOK_AS_SHOT
    from deepflash_core.look import describe

    print(f"\n### Global-flash test: {len(portraits)} held-out portraits made globally flash-like; share closed (%)")
    print("| photos | output | face L* share | face chroma share |")
    print("|---|---|---|---|")
    cases = [(flash_like(rgb), rgb, hull_of(face, rgb.shape[:2]), describe(rgb, face)) for rgb, face in portraits]
    rows = {"today (network only)": lambda x, own: correct(pipe, x, LOOK_AS_SHOT),
            f"product, default look ({DEFAULT_LOOK})": lambda x, own: correct(pipe, x, DEFAULT_LOOK),
            "global part only, the original's own look": lambda x, own: global_part(x, own.as_vector()),
            "product, the original's own look": lambda x, own: correct(pipe, x, own.as_vector())}
    for name, run in rows.items():
        start, end, goal = (np.array(v) for v in zip(*[(face_lab(x, h), face_lab(run(x, own), h), face_lab(o, h))
                                                         for x, o, h, own in cases]))
        print(f"| global flash-like | {name} | {100 * share_closed(start[:, 0], end[:, 0], goal[:, 0]):.0f} | "
              f"{100 * share_closed(chroma(start), chroma(end), chroma(goal)):.0f} |", flush=True)
    for name, look in (("today (network only)", lambda r: LOOK_AS_SHOT),
                       ("product, the target's own look", lambda r: describe(r.target, r.face).as_vector())):
        start, end, goal = (np.array(v) for v in zip(*[(face_lab(r.flash, r.hull), face_lab(correct(pipe, r.flash, look(r)), r.hull),
                                                         face_lab(r.target, r.hull)) for r in renders]))
        print(f"| renders | {name} | {100 * share_closed(start[:, 0], end[:, 0], goal[:, 0]):.0f} | "
              f"{100 * share_closed(chroma(start), chroma(end), chroma(goal)):.0f} |", flush=True)


def no_flash(pipe, portraits: list) -> None:
    from deepflash_client.options import DEFAULT_LOOK, LOOK_AS_SHOT
    from deepflash_core.look import describe

    print(f"\n### No-flash photos: {len(portraits)} held-out studio portraits; mean change over the face")
    print("| look asked for | mean abs change (levels of 255) | face ΔL* | face ΔC* |")
    print("|---|---|---|---|")
    for name, look in (("the photo's own (measured)", lambda rgb, face: describe(rgb, face).as_vector()),
                       ("as-shot (network only)", lambda rgb, face: LOOK_AS_SHOT),
                       (f"default ({DEFAULT_LOOK})", lambda rgb, face: DEFAULT_LOOK)):
        changes, lightness, chromas = [], [], []
        for rgb, face in portraits:
            hull = hull_of(face, rgb.shape[:2])
            out = correct(pipe, rgb, look(rgb, face))
            changes.append(np.abs(out.astype(int) - rgb)[hull].mean())
            before, after = face_lab(rgb, hull), face_lab(out, hull)
            lightness.append(after[0] - before[0])
            chromas.append(float(chroma(after) - chroma(before)))
        print(f"| {name} | {np.mean(changes):.2f} | {np.mean(lightness):+.2f} | {np.mean(chromas):+.2f} |", flush=True)


@click.command()
@click.option("--data", help="The portrait collection (default: $DEEPFLASH_PORTRAITS).")
@click.option("--count", default=16, show_default=True, help="Held-out people per section.")
@click.option("--weights", default=None, help="Installed model name or file (default: the default model).")
@click.option("--only", default=",".join(SECTIONS), show_default=True, help="Sections to run, comma-separated.")
@click.option("--seed", default=7, show_default=True)
def main(data: str | None, count: int, weights: str | None, only: str, seed: int) -> None:
    import torch

    from deepflash_core.look import describe
    from deepflash_core.pipeline import Pipeline

    torch.set_num_threads(1)
    root = collection(data)
    started = time.time()
    pipe = Pipeline.load(weights)
    sections = [s.strip() for s in only.split(",")]
    people = [p for p in (read(path) for path in held_out(root, count)) if p is not None]
    renders = [render(rgb, face, seed + i) for i, (rgb, face) in enumerate(people)]
    # Two real studio portraits of held-out people the renders do not show: the London set's first two beyond them.
    extra = [p for p in (read(path) for path in held_out(root, count + 40, ("frl_london_neutral",))[count:]) if p][:2]
    references = [(f"{i + 1}", describe(rgb, face)) for i, (rgb, face) in enumerate(extra)]
    print(f"model {pipe.card.name}; {len(people)} held-out people; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if "fidelity" in sections:
        fidelity(pipe, renders, references)
    if "skin" in sections:
        london = [p for p in (read(path) for path in held_out(root, 60, ("frl_london_neutral",))) if p]
        ranked = sorted(london, key=lambda p: describe(*p).face_lightness)
        picks = [ranked[-1], ranked[-2], ranked[len(ranked) // 2], ranked[len(ranked) // 2 - 1], ranked[1], ranked[0]]
        names = ["light 1", "light 2", "medium 1", "medium 2", "dark 1", "dark 2"]
        plain = [(n, render(rgb, face, seed, plain=True)) for n, (rgb, face) in zip(names, picks)]
        skin(pipe, plain, references, "flash rendered from their own portraits")
        skin(pipe, [(n, dataclasses.replace(r, flash=flash_like(r.target))) for n, r in plain], references,
             "their own portraits made globally flash-like")
    if "global-flash" in sections:
        global_flash(pipe, people, renders)
    if "no-flash" in sections:
        no_flash(pipe, people)
    print(f"\n{time.time() - started:.0f} s; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
