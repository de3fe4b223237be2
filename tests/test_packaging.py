"""What the install puts into site-packages: every package folder, and only ``deepflash_*`` import names."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_the_package_list_names_every_package_folder():
    config = _setuptools()
    folders = {name: Path(folder) for name, folder in config["package-dir"].items()}
    declared = set(config["packages"])
    for name in declared:
        top, *rest = name.split(".")
        folder = REPO / folders.get(top, Path(top)).joinpath(*rest)
        assert (folder / "__init__.py").is_file(), f"{name}: no {folder.relative_to(REPO)}/__init__.py"
    found = set()
    for top in {name.split(".")[0] for name in declared}:
        root = REPO / folders.get(top, Path(top))
        for init in root.rglob("__init__.py"):
            parts = init.parent.relative_to(root).parts
            if "__pycache__" in parts or (top in ("deepflash_gimp", "deepflash_krita") and parts):
                continue  # the plug-ins' own folders ship as package data
            found.add(".".join((top, *parts)))
    assert found - declared == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"


def test_every_installed_import_name_is_namespaced():
    assert all(name.split(".")[0].startswith("deepflash_") for name in _setuptools()["packages"])
