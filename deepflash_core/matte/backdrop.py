"""The backdrop lift: a smooth, hue-preserving brightening of everything but the person.

A studio backdrop light aimed at the wall behind the head gives a broad bright pool there that falls
off smoothly toward the frame's corners. This is modelled, not learnt: a gain field that is largest
behind the faces and Gaussian in the distance from them, applied to all three channels alike (so
channel ratios, hence hue and saturation, are kept), capped per pixel where it would push a channel
past full scale (clipping one channel first would shift the hue), and mixed in by ``1 − matte``.
"""

from __future__ import annotations

import numpy as np

# Peak extra brightness behind the head at strength 1 (gain 1 + LIFT), and the pool's Gaussian
# width as a fraction of the frame's diagonal.
LIFT = 0.3
SPREAD = 0.45


def lift_gain(height: int, width: int, centre: tuple[float, float], strength: float) -> tuple[np.ndarray, np.ndarray]:
    """The gain field ``1 + LIFT·s·exp(−r²/2σ²)`` around ``centre`` as its two separable factors.

    Returns:
        ``(rows, columns)``: ``(H, 1)`` and ``(1, W)`` float32 whose product is the Gaussian pool; the
        gain is ``1 + LIFT·strength·rows·columns``.
    """
    sigma = SPREAD * float(np.hypot(height, width))
    cx, cy = centre
    xs = np.exp(-0.5 * ((np.arange(width, dtype=np.float32) + 0.5 - cx) / sigma) ** 2).astype(np.float32)
    ys = np.exp(-0.5 * ((np.arange(height, dtype=np.float32) + 0.5 - cy) / sigma) ** 2).astype(np.float32)
    return (ys * np.float32(LIFT * strength))[:, None], xs[None, :]


def lift_backdrop(
    pixels: np.ndarray,
    output: np.ndarray,
    matte: np.ndarray,
    centre: tuple[float, float],
    strength: float,
    full_scale: float,
) -> None:
    """Add the backdrop lift to ``output`` in place: ``output += (1 − matte)·(gain − 1)·pixels``.

    Args:
        pixels: the original photo ``(H, W, 3|4)``; its colour is what the lift scales.
        output: the corrected photo (same shape and dtype), changed in place; alpha is never touched.
        matte: ``(H, W)`` float32 person matte; where it is 1 nothing changes.
        centre: ``(x, y)`` of the pool's centre in pixels (the faces).
        strength: the correction strength, which scales the lift too.
        full_scale: the dtype's full scale (255, 65535 or 1).
    """
    height, width = matte.shape
    rows, columns = lift_gain(height, width, centre, strength)
    step = max(1, (1 << 18) // max(width, 1))
    for r0 in range(0, height, step):  # strips: a few MB of temporaries, not a float copy of the photo
        r1 = min(height, r0 + step)
        colour = pixels[r0:r1, :, :3].astype(np.float32)
        extra = rows[r0:r1] * columns  # gain − 1
        # Cap the gain so that the brightest channel reaches full scale at most: no channel clips.
        brightest = colour.max(axis=2)
        headroom = np.float32(full_scale) / np.maximum(brightest, np.float32(1e-6)) - np.float32(1.0)
        np.minimum(extra, np.maximum(headroom, 0.0), out=extra)
        extra *= np.float32(1.0) - matte[r0:r1]
        target = output[r0:r1, :, :3]
        lifted = target.astype(np.float32) + colour * extra[..., None]
        if output.dtype == np.float32:
            target[...] = lifted
        else:
            np.round(lifted, out=lifted)
            target[...] = np.clip(lifted, 0, full_scale).astype(output.dtype)
