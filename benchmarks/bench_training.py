"""Training throughput of candidate configurations on this machine, and the data pipeline's.

Model: forward + eq. 5 loss + backward + Adam step on random batches (images/s), for each
width × input size × memory format × bf16 autocast × batch size asked for.
Data: synthetic pairs per second (crop + augmentation + flash render + bilateral filters) from
the portrait folder, in one process.

    python benchmarks/bench_training.py model --widths 0.125,0.25 --sizes 128,256 --batches 4,8
    python benchmarks/bench_training.py data --size 256 --count 40
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import click
import torch

from deepflash_core.encoding.equations import deepflash_loss
from deepflash_core.network.unet import FlashUNet, ModelConfig


def model_step_rate(width: float, size: int, batch: int, channels_last: bool, bf16: bool, steps: int) -> float:
    """Images per second of full training steps (after two warm-up steps)."""
    torch.manual_seed(0)
    model = FlashUNet(ModelConfig(width=width, input_size=size, encoder_batchnorm=True))
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(batch, 3, size, size).contiguous(memory_format=memory_format)
    t = torch.rand(batch, 3, size, size)
    for index in range(steps + 2):
        if index == 2:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = model(x)
        loss = deepflash_loss(y.float(), t)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return steps * batch / (time.perf_counter() - start)


@click.group()
def main() -> None:
    """Training benchmarks."""


@main.command()
@click.option("--widths", default="0.125,0.25")
@click.option("--sizes", default="128,256")
@click.option("--batches", default="4")
@click.option("--channels-last", "formats", default="1,0", help="1 = channels_last, 0 = contiguous")
@click.option("--bf16", "precisions", default="0,1", help="1 = bf16 autocast, 0 = float32")
@click.option("--steps", default=6)
def model(widths: str, sizes: str, batches: str, formats: str, precisions: str, steps: int) -> None:
    """Images/s of training steps for every combination."""
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("width  size  batch  channels_last  bf16  images/s")
    for width, size, batch, cl, bf in itertools.product(
        [float(v) for v in widths.split(",")], [int(v) for v in sizes.split(",")], [int(v) for v in batches.split(",")],
        [v == "1" for v in formats.split(",")], [v == "1" for v in precisions.split(",")],
    ):
        rate = model_step_rate(width, size, batch, cl, bf, steps)
        print(f"{width:<6} {size:<5} {batch:<6} {cl!s:<14} {bf!s:<5} {rate:8.2f}", flush=True)


@main.command()
@click.option("--data", "root", type=click.Path(path_type=Path), help="The studio portrait collection "
              "(default: $DEEPFLASH_PORTRAITS).")
@click.option("--landmarks", default="cache/landmarks_portraits.json", type=click.Path(path_type=Path))
@click.option("--size", default=256)
@click.option("--count", default=40)
def data(root: Path | None, landmarks: Path, size: int, count: int) -> None:
    """Synthetic pairs/s: crop, augmentation, flash render and both bilateral filters, one process."""
    from deepflash_train.config import portraits_root

    root = portraits_root(root)
    from deepflash_train.dataset import PortraitStore, SyntheticPairs, make_pair, sample_rng
    from deepflash_train.landmarks import load_landmark_cache
    from deepflash_train.renderer import FlashRenderer
    from deepflash_train.split import files_in, read_split

    torch.set_num_threads(1)
    files = files_in(read_split(), "train")
    store = PortraitStore(root, files, load_landmark_cache(landmarks)["entries"], size)
    pairs = SyntheticPairs(store, FlashRenderer(), size)
    indices = [(i * 7919) % len(pairs) for i in range(count)]
    start = time.perf_counter()
    for index in indices:  # decode, downscale and matte every portrait once (the store keeps them)
        store.matte(index // pairs.augmentations)
    print(f"store: {1000 * (time.perf_counter() - start) / count:.1f} ms/portrait to decode, downscale and matte")
    start = time.perf_counter()
    for index in indices:
        studio, face = store.get(index // pairs.augmentations)
        make_pair(studio, face, size, pairs.augmentation_of(index), pairs.renderer, sample_rng(0, 0, index),
                  store.matte(index // pairs.augmentations))
    render = (time.perf_counter() - start) / count
    start = time.perf_counter()
    for index in indices:
        pairs[index]
    total = (time.perf_counter() - start) / count
    print(f"size {size}: crop+render {1000 * render:.1f} ms/pair, with bilateral filters {1000 * total:.1f} ms/pair "
          f"= {1 / total:.1f} pairs/s on one thread")


@main.command()
@click.argument("portrait", default="deepflash_app/examples/congress_A000014.jpg", type=click.Path(exists=True, path_type=Path))
@click.option("--weights", default=None, type=click.Path(path_type=Path), help="Default: the shipped weights.")
@click.option("--seed", default=7)
@click.option("--out-dir", default="runs/relit", type=click.Path(path_type=Path))
def relit(portrait: Path, weights: Path | None, seed: int, out_dir: Path) -> None:
    """Re-light a studio portrait with the virtual flash, run `deepflash process`, compare with the original."""
    import subprocess
    import sys

    import numpy as np
    from PIL import Image
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from deepflash_core.detection.faces import detect_faces
    from deepflash_train.renderer import FlashRenderer

    studio_u8 = np.asarray(Image.open(portrait).convert("RGB"))
    studio = studio_u8.astype(np.float32) / 255.0
    face = max(detect_faces(studio_u8), key=lambda f: f.box[2] - f.box[0])
    flash, _ = FlashRenderer().render(studio, face, np.random.default_rng(seed))
    out_dir.mkdir(parents=True, exist_ok=True)
    flash_path, output_path = out_dir / "flash.png", out_dir / "processed.png"
    Image.fromarray((np.clip(flash, 0, 1) * 255 + 0.5).astype(np.uint8)).save(flash_path)
    command = [str(Path(sys.executable).parent / "deepflash"), "process", str(flash_path), "-o", str(output_path), "-q"]
    if weights:
        command += ["--weights", str(weights)]
    subprocess.run(command, check=True)
    processed = np.asarray(Image.open(output_path).convert("RGB")).astype(np.float64) / 255.0
    flash_q = np.asarray(Image.open(flash_path).convert("RGB")).astype(np.float64) / 255.0
    reference = studio.astype(np.float64)
    x0, y0, x1, y1 = face.box
    print(f"{portrait} re-lit by the virtual flash (seed {seed}), compared with the original studio portrait:")
    for label, region in (("whole image", np.s_[:, :]), ("face box", np.s_[max(0, y0):y1, max(0, x0):x1])):
        for name, image in (("flash input", flash_q), ("deepflash process", processed)):
            psnr = peak_signal_noise_ratio(reference[region], image[region], data_range=1.0)
            ssim = structural_similarity(reference[region], image[region], channel_axis=2, data_range=1.0)
            print(f"  {label:<12} {name:<18} PSNR {psnr:6.2f} dB  SSIM {ssim:.4f}")
    print(f"images in {out_dir}")


if __name__ == "__main__":
    main()
