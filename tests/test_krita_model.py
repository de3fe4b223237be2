"""The Krita docker's state without Krita or Qt: settings, the look menu, server status, a job's start and end."""

from __future__ import annotations

import json

import pytest

from deepflash_client.client_base import ProcessReply
from deepflash_client.options import Options
from deepflash_client.protocol import ImageSpec
from deepflash_editor.job import Outcome
from deepflash_editor.looks import REFERENCE
from deepflash_editor.settings import INSTALL_RECORD_NAME
from deepflash_krita.deepflash.document import LayerPixels
from deepflash_krita.deepflash.pixels import krita_layout
from deepflash_krita.deepflash.model import CHECKING, DockerModel

PRESETS = [{"name": "neutral-studio", "description": "Even, neutral studio light"},
           {"name": "warm-window", "description": "Warm light from one side"}]


def open_model(tmp_path, settings=None, record=None):
    (tmp_path / "plugin").mkdir(exist_ok=True)
    (tmp_path / "plugin" / INSTALL_RECORD_NAME).write_text(json.dumps({"address": "tcp://127.0.0.1:5599",
                                                                  "looks": PRESETS, **(record or {})}))
    if settings is not None:
        (tmp_path / "docker.json").write_text(json.dumps(settings))
    model = DockerModel.open(tmp_path / "plugin", tmp_path / "docker.json", tmp_path / "krita.log")
    changes: list[str] = []
    model.listeners.append(changes.append)
    return model, changes


def layer(width=2, height=1):
    return LayerPixels("document", "node", krita_layout("RGBA", "U8"), 0, 0, width, height,
                       bytes(range(width * height * 4)), "u8")


def test_the_saved_settings_and_the_recorded_presets_make_the_menu_and_the_request(tmp_path):
    model, _ = open_model(tmp_path, {"look": "warm-window", "strength": 0.5})
    assert model.look_names[:2] == ["neutral-studio", "warm-window"] and REFERENCE in model.look_names
    assert model.look_index == 1 and not model.wants_reference and model.message == ""
    assert model.address == "tcp://127.0.0.1:5599"  # the install record's, until the settings name one
    model.save("address", "tcp://10.0.0.2:5555")
    assert model.address == "tcp://10.0.0.2:5555"
    model.choose_look(model.look_names.index(REFERENCE))
    assert model.wants_reference
    saved = json.loads((tmp_path / "docker.json").read_text())
    assert saved["look"] == REFERENCE and saved["strength"] == 0.5


def test_a_look_no_longer_offered_is_said_and_the_first_is_shown(tmp_path):
    model, _ = open_model(tmp_path, {"look": "candle"})  # a valid name, but not among the recorded presets
    assert model.look_index == 0
    assert "“candle” is no longer offered" in model.message


def test_a_setting_that_cannot_be_saved_is_logged_and_kept(tmp_path):
    model, _ = open_model(tmp_path)
    (tmp_path / "docker.json").mkdir()  # the file cannot be written
    model.save("red_eye", False)
    assert model.settings["red_eye"] is False
    assert "cannot save setting red_eye" in (tmp_path / "krita.log").read_text()


def test_a_ping_reply_or_silence_becomes_the_status_line(tmp_path):
    model, changes = open_model(tmp_path)
    assert model.status == CHECKING and model.server_up is None
    model.server_status({"state": "ready", "device": "cpu"})
    assert (model.status, model.server_up) == ("Server at tcp://127.0.0.1:5599: ready (cpu)", True)
    model.server_status(None, "OSError: refused")
    assert (model.status, model.server_up) == ("No server at tcp://127.0.0.1:5599 (OSError: refused)", False)
    assert changes == ["status", "status"]


def test_a_job_carries_the_layer_and_the_settings_and_its_result_becomes_a_layer(tmp_path):
    model, changes = open_model(tmp_path, {"strength": 0.25, "background": "lift", "start_server": False},
                                {"python": "", "serve_command": []})
    source = layer()
    job, context = model.start(source, None)
    assert (job.pixels, job.width, job.height, job.channels, job.dtype) == (source.pixels, 2, 1, 4, "u8")
    assert job.options == Options(strength=0.25, background="lift")
    assert context.address == model.address and context.log_path == tmp_path / "krita.log"
    assert not context.can_start  # no serve command recorded
    assert model.running and changes == ["busy", "message"]
    assert model.message == "Sending the layer to the DeepFlash server…"
    with pytest.raises(RuntimeError):
        model.start(source, None)
    added = []
    reply = ProcessReply(b"result", ImageSpec(6, 1, 1, "u8"), matte=b"m")
    shown = model.finish(Outcome(True, "ok", "Done.", reply), lambda *args: added.append(args))
    assert added == [(source, b"result", b"m")] and shown.ok and model.message == "Done."
    assert not model.running and model.source is None and changes[2:] == ["busy", "message"]


def test_a_failed_job_adds_nothing_and_a_layer_that_cannot_be_added_is_said(tmp_path):
    model, _ = open_model(tmp_path)
    model.start(layer(), None)
    shown = model.finish(Outcome(False, "no_face", "No face found."), lambda *args: pytest.fail("added a layer"))
    assert not shown.ok and model.message == "No face found."

    def closed(*args):
        raise RuntimeError("the document was closed")

    model.start(layer(), None)
    shown = model.finish(Outcome(True, "ok", "Done.", ProcessReply(b"result", ImageSpec(6, 1, 1, "u8"))), closed)
    assert (shown.ok, shown.code) == (False, "unexpected") and "the document was closed" in model.message
    assert not model.running
