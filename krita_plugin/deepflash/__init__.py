"""DeepFlash for Krita: a docker (Settings → Dockers → DeepFlash) that turns a phone-flash portrait studio-lit.

``deepflash install krita`` copies this package into Krita's ``pykrita`` folder with the DeepFlash
client modules in ``vendor/`` and an install record (server address, DeepFlash Python).
"""

from __future__ import annotations

import sys
from pathlib import Path

_VENDOR = Path(__file__).resolve().parent / "vendor"
if _VENDOR.is_dir() and str(_VENDOR) not in sys.path:
    sys.path.insert(0, str(_VENDOR))

try:
    from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita
except ImportError:  # imported outside Krita (tests, packaging): register nothing
    Krita = None

DOCKER_ID = "deepflash_docker"

if Krita is not None and Krita.instance() is not None:
    from .docker import DeepFlashDocker

    Krita.instance().addDockWidgetFactory(
        DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, DeepFlashDocker))
