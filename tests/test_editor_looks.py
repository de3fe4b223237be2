"""The Look menu both plug-ins share (deepflash_editor.looks): the presets the install recorded, the photo's own
look and a reference layer described once, with a scriptable client instead of a server."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from editor_fakes import REFERENCE_LOOK, FakeClient, make_context, small_job

from deepflash_client.errors import ServerError
from deepflash_client.options import DEFAULT_LOOK, LOOK_AS_SHOT
from deepflash_core.look.presets import load_preset, preset_names
from deepflash_editor import looks
from deepflash_editor.job import run_job
from deepflash_editor.settings import INSTALL_RECORD, SettingsFile


@pytest.fixture(autouse=True)
def nothing_described():
    looks._described.clear()


def test_the_menu_puts_the_default_first_then_the_other_presets_the_photos_own_and_the_reference():
    presets = [{"name": name, "description": load_preset(name).description} for name in preset_names()]
    menu = looks.look_menu(presets, "From another open document or layer")
    assert [entry.name for entry in menu] == [DEFAULT_LOOK, *sorted(set(preset_names()) - {DEFAULT_LOOK}),
                                              LOOK_AS_SHOT, looks.REFERENCE]
    assert menu[0].label.endswith("(default)") and menu[-1].label == "From another open document or layer"
    assert all(entry.description for entry in menu)


def test_an_install_record_without_looks_still_offers_the_default_and_never_another_silently():
    menu = looks.look_menu([], "From another open image or layer")
    assert [entry.name for entry in menu] == [DEFAULT_LOOK, LOOK_AS_SHOT, looks.REFERENCE]


def test_the_install_record_keeps_well_formed_looks_and_drops_malformed_ones(tmp_path):
    from deepflash_app.commands.install import install_record

    record = install_record("tcp://127.0.0.1:5557")
    assert [look["name"] for look in record["looks"]] == preset_names()
    path = tmp_path / "deepflash_install.json"
    path.write_text(json.dumps(record))
    loaded = SettingsFile(INSTALL_RECORD, path)
    assert loaded.load() == [] and loaded["looks"] == record["looks"]
    path.write_text(json.dumps({**record, "looks": [{"name": 3}]}))
    assert len(loaded.load()) == 1


def reference_job(reference: looks.Reference | None = None):
    return replace(small_job(look=looks.REFERENCE), reference=reference or looks.Reference(bytes(range(48)), 4, 4, 3, "u8"))


def test_a_reference_is_described_once_per_pixels_and_its_look_replaces_the_menus_entry():
    client = FakeClient()
    first = run_job(reference_job(), make_context(client))
    second = run_job(reference_job(), make_context(client))
    assert first.ok and second.ok
    assert len(client.described) == 1  # the same pixels: this process's memory answered the second time
    assert [call["options"].look for call in client.calls] == [REFERENCE_LOOK, REFERENCE_LOOK]
    other = looks.Reference(bytes(range(1, 49)), 4, 4, 3, "u8")
    run_job(reference_job(other), make_context(client))
    assert len(client.described) == 2


@pytest.mark.parametrize("line", ["The reference has no face; a look is taken from a portrait.",
                                  "The reference is greyscale; a look is taken from a colour photo.",
                                  "The reference's face is 30 px wide; a look needs a face at least 48 px wide."])
def test_a_bad_reference_is_one_line_and_no_photo_is_sent(line):
    client = FakeClient(look_failures=[ServerError(line, "bad_reference")])
    outcome = run_job(reference_job(), make_context(client))
    assert not outcome.ok and outcome.code == "bad_reference" and outcome.pixels is None
    assert outcome.message.startswith(line + " Nothing was changed") and "\n" not in outcome.message
    assert not client.calls
