"""What a look costs at 12 MP: the descriptor on a reference, and the pipeline's look stage, beside a JPEG round trip.

    python benchmarks/bench_look_cost.py [--megapixels 12] [--repeat 5]

The frame is ``bench_pipeline``'s (the bundled portrait upscaled to the frame's height, sensor-like noise).
Timed one after the other in each round, medians over the rounds, process CPU time (the machine is shared):
``describe`` on the detected face (the detection itself is the pipeline's detect stage, not the look's);
the look stage as the pipeline runs it (:func:`deepflash_core.look.stage.correct_look`: describe the photo,
plan, apply through the subject matte, toward the default look); a bare Pillow JPEG decode + encode.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import click

from bench_pipeline import jpeg_round_trip, landscape_photo, write_jpeg

CLOCK = time.process_time


@click.command()
@click.option("--megapixels", default=12.0, show_default=True)
@click.option("--repeat", default=5, show_default=True)
def main(megapixels: float, repeat: int) -> None:
    from deepflash_client.options import Options
    from deepflash_core.detection.detect import detect
    from deepflash_core.look import describe
    from deepflash_core.look.stage import correct_look
    from deepflash_core.reconstruction.blend import find_subject

    pixels = landscape_photo(megapixels)
    options = Options(red_eye=False)
    detection = detect(pixels, options)
    subject = find_subject(pixels, detection.coarse, detection.faces, options, [])
    face = detection.faces[0]
    rows: dict[str, list[float]] = {"describe": [], "look stage": [], "jpeg": []}
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "frame.jpg"
        write_jpeg(pixels, source)
        for _ in range(repeat):
            start = CLOCK()
            describe(pixels, face, reference=True)
            rows["describe"].append(CLOCK() - start)
            output = pixels.copy()
            start = CLOCK()
            correct_look(pixels, output, detection.faces, subject, options, [])
            rows["look stage"].append(CLOCK() - start)
            start = CLOCK()
            jpeg_round_trip(source)
            rows["jpeg"].append(CLOCK() - start)
    medians = {name: statistics.median(values) for name, values in rows.items()}
    height, width = pixels.shape[:2]
    covered = float((subject > 0).mean())
    print(f"{width}x{height} ({width * height / 1e6:.1f} MP), face {face.box[2] - face.box[0]} px wide, "
          f"subject {100 * covered:.0f} % of the frame; {repeat} rounds, CPU seconds; load {os.getloadavg()[0]:.1f}")
    print("| step | median ms | ÷ JPEG decode+encode |")
    print("|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {1000 * value:.0f} | {value / medians['jpeg']:.2f} |")


if __name__ == "__main__":
    main()
