"""The looks contact sheet (docs/look_contact_sheet.jpg): flash photos × looks, and a key-light sweep.

    python benchmarks/look_contact_sheet.py --data PORTRAITS [--out docs/look_contact_sheet.jpg]

Rows: the bundled flash renders (public domain and CC BY, see their SOURCES.csv) through the shipped
default model. Columns: the input, today's correction (the network alone, ``--look as-shot``), the three
presets, and two real studio portraits of held-out people as references (shown in the header row). Last
row: the default look with the key light asked for on the left, in front and on the right (``--key``).
"""

from __future__ import annotations

import dataclasses

import click
import cv2
import numpy as np

from look_cases import ROOT, collection, held_out, read

TILE = 240
FLASH_PHOTOS = ("deepflash_app/examples/flash_portrait_frl_012.jpg", "deepflash_app/examples/flash_portrait.jpg",
                "tests/fixtures/red_eye_portrait.jpg")


def tile(image: np.ndarray, label: str) -> np.ndarray:
    height, width = image.shape[:2]
    side = min(height, width)
    square = image[(height - side) // 2 : (height + side) // 2, (width - side) // 2 : (width + side) // 2]
    out = cv2.resize(square, (TILE, TILE), interpolation=cv2.INTER_AREA)
    cv2.rectangle(out, (0, TILE - 22), (TILE, TILE), (0, 0, 0), -1)
    cv2.putText(out, label, (5, TILE - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


@click.command()
@click.option("--data", help="The portrait collection (default: $DEEPFLASH_PORTRAITS).")
@click.option("--out", default=str(ROOT / "docs" / "look_contact_sheet.jpg"), show_default=True)
def main(data: str | None, out: str) -> None:
    import torch

    from deepflash_client.options import DEFAULT_LOOK, LOOK_AS_SHOT, Options
    from deepflash_core.look import describe
    from deepflash_core.look.presets import requested_look
    from deepflash_core.pipeline import Pipeline

    torch.set_num_threads(1)
    root = collection(data)
    pipe = Pipeline.load()
    references = []
    for path in held_out(root, 8, ("frl_london_neutral", "congress_225x275"))[:2]:
        rgb, face = read(path)
        references.append((f"ref {path.stem}", rgb, describe(rgb, face, reference=True).as_vector()))
    looks = [("today", LOOK_AS_SHOT), ("warm-studio", "warm-studio"), ("neutral-studio", "neutral-studio"),
             ("keep-colour", "keep-colour")] + [(name, vector) for name, _, vector in references]
    header = [np.full((TILE, TILE, 3), 255, np.uint8)] * 2 + [np.full((TILE, TILE, 3), 255, np.uint8)] * 3
    header += [tile(rgb, name) for name, rgb, _ in references]
    rows = [np.hstack(header)]
    for name in FLASH_PHOTOS:
        pixels = cv2.cvtColor(cv2.imread(str(ROOT / name)), cv2.COLOR_BGR2RGB)
        cells = [tile(pixels, "flash input")]
        cells += [tile(pipe.process(pixels, Options(look=look)).pixels, label) for label, look in looks]
        rows.append(np.hstack(cells))
    pixels = cv2.cvtColor(cv2.imread(str(ROOT / FLASH_PHOTOS[0])), cv2.COLOR_BGR2RGB)
    sweep = [tile(pixels, "flash input")]
    for side, key_x in (("key left", -1.0), ("key front", 0.0), ("key right", 1.0)):
        vector = dataclasses.replace(requested_look(DEFAULT_LOOK), key_x=key_x).as_vector()
        sweep.append(tile(pipe.process(pixels, Options(look=vector)).pixels, side))
    sweep += [np.full((TILE, TILE, 3), 255, np.uint8)] * (len(rows[0][0]) // TILE - len(sweep))
    rows.append(np.hstack(sweep))
    sheet = np.vstack(rows)
    cv2.imwrite(out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
