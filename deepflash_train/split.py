"""By-person split of the portrait folder into train, validation and test.

The same person must never appear in two splits (the London neutral and smiling
folders show the same 102 people), or validation and test figures would measure
memory instead of generalisation. The split is a pure function of the person ids,
so it is reproducible without any random state, and the committed CSV records it.
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = {"validation": 0.1, "test": 0.1}
SPLIT_CSV = Path(__file__).resolve().parent / "data" / "portraits_split.csv"
"""The committed split of the portrait folder (file, set, person, split)."""


@dataclass(frozen=True)
class SplitEntry:
    """One image of the split: ``file`` is relative to the data folder."""

    file: str
    set: str
    person: str
    split: str


def portrait_files(root: Path) -> list[str]:
    """Colour portraits of a data folder: the rows of its ``manifest.csv`` present on disk.

    Grayscale portraits are left out: a colour correction cannot be learnt from them. Without a
    manifest, every ``*.jpg``/``*.png`` below ``root`` is taken.
    """
    manifest = root / "manifest.csv"
    if not manifest.exists():
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    with open(manifest, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return sorted(r["file"] for r in rows if r.get("mode", "RGB") == "RGB" and (root / r["file"]).exists())


def person_of(file: str) -> tuple[str, str]:
    """``(set, person id)`` of a portrait path like ``frl_london_smiling/012_08.jpg``.

    London neutral/smiling share ``NNN``; other sets have one person per file stem.
    """
    parts = Path(file).parts
    folder, stem = (parts[-2] if len(parts) > 1 else ""), Path(file).stem
    if folder.startswith("frl_london"):
        return folder, "frl_london/" + stem.split("_")[0]
    return folder, f"{folder}/{stem}"


def _rank(person: str, seed: str) -> str:
    # A keyed hash orders people reproducibly on every machine, with no RNG state to carry.
    return hashlib.sha256(f"{seed}:{person}".encode()).hexdigest()


def split_by_person(
    files: list[str], fractions: dict[str, float] | None = None, seed: str = "deepflash"
) -> list[SplitEntry]:
    """Assign every file to a split so that each person lands in exactly one.

    People are split per source set (so each split holds some of every set), ordered by a
    keyed hash; the first ``test`` fraction goes to test, the next ``validation`` fraction
    to validation, the rest to train.

    Returns:
        Entries in the order of ``files``.
    """
    fractions = fractions or DEFAULT_FRACTIONS
    people_by_set: dict[str, set[str]] = defaultdict(set)
    for file in files:
        folder, person = person_of(file)
        people_by_set[_set_family(folder)].add(person)
    split_of: dict[str, str] = {}
    for people in people_by_set.values():
        ordered = sorted(people, key=lambda p: _rank(p, seed))
        n_test = round(len(ordered) * fractions.get("test", 0.0))
        n_val = round(len(ordered) * fractions.get("validation", 0.0))
        for index, person in enumerate(ordered):
            split_of[person] = "test" if index < n_test else "validation" if index < n_test + n_val else "train"
    entries = []
    for file in files:
        folder, person = person_of(file)
        entries.append(SplitEntry(file=file, set=folder, person=person, split=split_of[person]))
    return entries


def _set_family(folder: str) -> str:
    # Both London folders are one population of people.
    return "frl_london" if folder.startswith("frl_london") else folder


def write_split(entries: list[SplitEntry], path: Path = SPLIT_CSV) -> None:
    """Write the split as CSV (file, set, person, split), sorted by file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "set", "person", "split"])
        for entry in sorted(entries, key=lambda e: e.file):
            writer.writerow([entry.file, entry.set, entry.person, entry.split])


def read_split(path: Path = SPLIT_CSV) -> list[SplitEntry]:
    """Read a split CSV written by :func:`write_split`."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [SplitEntry(row["file"], row["set"], row["person"], row["split"]) for row in csv.DictReader(handle)]


def files_in(entries: list[SplitEntry], split: str) -> list[str]:
    """Files of one split, in a stable order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    return sorted(e.file for e in entries if e.split == split)
