"""MediaPipe's legacy solutions, imported without the rest of MediaPipe.

``import mediapipe`` runs the package's ``__init__``, which imports every solution (hands, pose,
holistic, objectron, ...), the whole Tasks API and, through the solutions' drawing helpers,
``matplotlib.pyplot``: most of a second of start-up for two small graphs. The product uses only the
selfie segmentation and the face mesh, which need nothing from those ``__init__`` files: they import
their calculators' protobuf modules and ``mediapipe.python.solution_base`` by full name.

So the three package levels above the solutions are registered as bare packages (their ``__path__``
set to the installed folders, their ``__init__`` not run) and only the wanted solution modules are
imported from them. This relies on the layout of the pinned MediaPipe release (``pyproject.toml``); if
anything is not where it is expected, or MediaPipe is already imported in full, the plain import is
used instead. Once registered, the bare packages stay: a later ``import mediapipe`` in this process
gets them, without the attributes the full ``__init__`` would have added (the product imports
MediaPipe only through this module).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import threading
import types
from pathlib import Path

# The packages whose __init__ is skipped, outermost first.
_BARE_PACKAGES = ("mediapipe", "mediapipe.python", "mediapipe.python.solutions")
_lock = threading.Lock()


def solution(name: str) -> types.ModuleType:
    """The module ``mediapipe.python.solutions.<name>`` (e.g. ``"face_mesh"``).

    Raises:
        ImportError: MediaPipe is not installed, or the module cannot be imported at all.
    """
    full_name = f"{_BARE_PACKAGES[-1]}.{name}"
    with _lock:  # two threads must not register the bare packages at once
        loaded = sys.modules.get(full_name)
        if loaded is not None:
            return loaded
        if _register_bare_packages():
            try:
                return importlib.import_module(full_name)
            except Exception:  # the layout differs from the pinned release: start again the plain way
                for module in [m for m in sys.modules if m == "mediapipe" or m.startswith("mediapipe.")]:
                    del sys.modules[module]
        importlib.import_module("mediapipe")
        return importlib.import_module(full_name)


def _register_bare_packages() -> bool:
    """Put the bare packages into ``sys.modules``; False when that is not possible or not needed."""
    if any(name in sys.modules for name in _BARE_PACKAGES):
        return False  # imported already (in full, or bare by an earlier call): nothing to gain
    try:
        spec = importlib.util.find_spec("mediapipe")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    root = Path(next(iter(spec.submodule_search_locations)))
    if not (root / "python" / "solution_base.py").is_file() or not (root / "python" / "solutions").is_dir():
        return False
    parent = None
    for name in _BARE_PACKAGES:
        folder = str(root.joinpath(*name.split(".")[1:]))
        module = importlib.util.module_from_spec(importlib.machinery.ModuleSpec(name, None, is_package=True))
        module.__path__ = module.__spec__.submodule_search_locations = [folder]
        sys.modules[name] = module
        if parent is not None:
            setattr(parent, name.rsplit(".", 1)[1], module)
        parent = module
    return True
