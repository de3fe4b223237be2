"""Choice of the torch device: CUDA, then Apple MPS, then CPU, or as asked."""

from __future__ import annotations

import torch

from deepflash_client.errors import InvalidOptionError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def select_device(name: str = "auto") -> torch.device:
    """Return the torch device for ``name`` ("auto", "cpu", "cuda", "cuda:N" or "mps").

    Raises:
        InvalidOptionError: the name is unknown or that device is not available here.
    """
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise InvalidOptionError("Device 'mps' was asked for, but Apple MPS is not available here.")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InvalidOptionError(
                f"Device '{name}' was asked for, but this torch has no CUDA device; "
                "install a CUDA build of torch (see README) or use --device cpu."
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InvalidOptionError(f"Device '{name}' does not exist; this machine has {torch.cuda.device_count()}.")
        return device
    raise InvalidOptionError(f"Unknown device '{name}'; choose one of {', '.join(DEVICE_CHOICES)} or cuda:N.")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def autocast_dtype(device: torch.device) -> torch.dtype:
    """The reduced precision that speeds inference on ``device`` (bf16 on CPU/CUDA, fp16 on MPS)."""
    return torch.float16 if device.type == "mps" else torch.bfloat16
