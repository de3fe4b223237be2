"""The editor package both plug-ins share (deepflash_editor): the job and its outcomes, the connection,
settings, paths and messages, with a scriptable client instead of a server.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from editor_fakes import LOG_PATH, FakeClient, make_context, small_job

from deepflash_client.errors import ServerError, ServerStartError, ServerUnavailableError
from deepflash_client.options import Options
from deepflash_editor import messages
from deepflash_editor.connection import client_factory
from deepflash_editor.job import CallerThread, CorrectionJob, call_with_heartbeat, run_job
from deepflash_editor.paths import plugin_log_path, user_config_dir
from deepflash_editor.settings import INSTALL_RECORD, Setting, SettingsFile

REPO = Path(__file__).resolve().parents[1]


# --- the job: every outcome a user can meet ----------------------------------------------------------

def test_job_success_returns_the_servers_pixels_and_options():
    client = FakeClient()
    outcome = run_job(small_job(strength=0.5, whole_image=True), make_context(client), "New")
    assert outcome.ok and outcome.code == "ok"
    assert outcome.pixels == bytes(255 - b for b in range(24))
    assert client.calls == [dict(width=2, height=3, channels=4, dtype="u8", options=Options(strength=0.5, whole_image=True),
                                 size=24)]
    assert "whole image" in outcome.message and "“New”" in outcome.message
    assert client.closed == 1


def test_server_down_without_permission_names_address_and_log():
    client = FakeClient(failures=[ServerUnavailableError("nothing at the address")])
    outcome = run_job(small_job(), make_context(client))
    assert not outcome.ok and outcome.code == "server_down" and outcome.pixels is None
    assert "No DeepFlash server answers at tcp://127.0.0.1:5557" in outcome.message
    assert "Allow the plug-in to start it" in outcome.message and str(LOG_PATH) in outcome.message


def test_server_down_at_a_remote_address_says_to_start_it_on_that_machine():
    from deepflash_editor import messages

    for can_start in (True, False):
        message = messages.server_down("tcp://192.0.2.7:5557", LOG_PATH, can_start)
        assert "Allow the plug-in to start it" not in message
        assert "on 192.0.2.7" in message and "deepflash serve" in message and str(LOG_PATH) in message


def test_failed_server_start_is_reported_with_its_reason():
    client = FakeClient(failures=[ServerStartError("the port is taken")])
    outcome = run_job(small_job(), make_context(client))
    assert outcome.code == "start_failed" and "the port is taken" in outcome.message


def test_no_known_way_to_start_says_how_to_start_by_hand():
    outcome = run_job(small_job(), make_context(FakeClient(failures=[ServerUnavailableError("down")]), can_start=False))
    assert outcome.code == "server_down" and "deepflash serve" in outcome.message


def test_no_face_says_so_and_how_to_switch_mode():
    client = FakeClient(failures=[ServerError("No face found in the image.", "no_face")])
    outcome = run_job(small_job(), make_context(client))
    assert outcome.code == "no_face"
    assert outcome.message.startswith("No face found") and "Whole image" in outcome.message


def test_other_server_errors_carry_the_servers_message():
    client = FakeClient(failures=[ServerError("The image is 30000×10; too large.", "too_large")])
    outcome = run_job(small_job(), make_context(client))
    assert outcome.code == "server_error" and "too large" in outcome.message and str(LOG_PATH) in outcome.message


def test_unexpected_exceptions_become_a_message_not_a_traceback(caplog):
    client = FakeClient(failures=[ZeroDivisionError("boom")])
    with caplog.at_level(logging.ERROR, logger="deepflash.test"):
        outcome = run_job(small_job(), make_context(client))
    assert outcome.code == "unexpected" and "ZeroDivisionError: boom" in outcome.message
    assert "Traceback" in caplog.text  # the log keeps the details


def test_a_reply_of_the_wrong_shape_is_refused():
    class Shrinking(FakeClient):
        def process(self, pixels, **options):
            reply = super().process(pixels, **options)
            reply.image = replace(reply.image, height=reply.image.height - 1)
            return reply

    outcome = run_job(small_job(), make_context(Shrinking()))
    assert not outcome.ok and "the reply is" in outcome.message


def test_the_matte_asked_for_comes_back_with_the_outcome():
    client = FakeClient()
    outcome = run_job(small_job(with_matte=True, background="lift", red_eye=False), make_context(client))
    assert outcome.ok and outcome.matte == bytes(range(10, 16))
    assert client.calls[0]["options"] == Options(with_matte=True, background="lift", red_eye=False)
    assert run_job(small_job(), make_context(FakeClient())).matte is None


def test_a_matte_of_the_wrong_size_is_refused():
    class ShortMatte(FakeClient):
        def process(self, pixels, **options):
            reply = super().process(pixels, **options)
            reply.matte = reply.matte[:-1]
            return reply

    outcome = run_job(small_job(with_matte=True), make_context(ShortMatte()))
    assert not outcome.ok and outcome.matte is None and "matte has 5 bytes, expected 6" in outcome.message


def test_a_buffer_that_does_not_match_its_shape_never_reaches_the_server():
    client = FakeClient()
    outcome = run_job(CorrectionJob(b"123", 2, 2, 3, "u8"), make_context(client))
    assert outcome.code == "unexpected" and client.calls == []


def test_heartbeat_runs_while_the_call_waits_and_passes_errors_through():
    import threading

    release = threading.Event()
    beats = []

    def beat():
        beats.append(1)
        if len(beats) == 3:
            release.set()

    assert call_with_heartbeat(lambda: release.wait(5) and "done", beat, interval_s=0.01) == "done"
    assert len(beats) >= 3
    with pytest.raises(ValueError, match="inside"):
        call_with_heartbeat(lambda: (_ for _ in ()).throw(ValueError("inside")), lambda: None, 0.01)


def test_a_stopped_server_is_reported_within_seconds_by_the_real_client():
    """The real ZeroMQ client against a port nobody listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = make_context(FakeClient(), can_start=False)
    context.connect = client_factory(python="", serve_command=[], may_start=lambda: True, auto_start_helper=False)
    context.address = f"tcp://127.0.0.1:{port}"
    outcome = run_job(small_job(), context)
    assert outcome.code == "server_down" and f"127.0.0.1:{port}" in outcome.message


def test_a_recorded_serve_command_that_is_gone_is_reported_as_a_failed_start(tmp_path, monkeypatch):
    """The real client, allowed to start a server with a command that no longer exists."""
    import socket

    monkeypatch.setenv("DEEPFLASH_STATE_DIR", str(tmp_path / "state"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    missing = tmp_path / "gone" / "deepflash"
    asked = []
    context = make_context(FakeClient())
    context.address = f"tcp://127.0.0.1:{port}"
    context.connect = client_factory(python="", serve_command=[str(missing), "serve"],
                                     may_start=lambda: asked.append(1) or True, auto_start_helper=False)
    outcome = run_job(small_job(), context)
    assert outcome.code == "start_failed" and str(missing) in outcome.message
    assert asked == [1]


def test_a_question_asked_from_the_request_thread_is_answered_in_the_waiting_thread():
    import threading

    caller = CallerThread()
    asked_in = []
    ask = caller.wrap(lambda: asked_in.append(threading.get_ident()) or True)
    assert call_with_heartbeat(ask, lambda: None, interval_s=0.01, caller=caller) is True
    assert asked_in == [threading.get_ident()]


# --- settings ------------------------------------------------------------------------------------------

DECLARED = (
    Setting("strength", float, 1.0, "strength", lambda value: 0 <= value <= 1),
    Setting("whole_image", bool, False, "mode"),
    Setting("address", str, "tcp://127.0.0.1:5557", "address"),
)


def test_settings_round_trip_through_json(tmp_path):
    settings = SettingsFile(DECLARED, tmp_path / "sub" / "settings.json")
    settings.set("strength", 0.25)
    settings.set("whole_image", True)
    settings.save()
    again = SettingsFile(DECLARED, tmp_path / "sub" / "settings.json")
    assert again.load() == []
    assert again["strength"] == 0.25 and again["whole_image"] is True


def test_missing_settings_file_gives_defaults_silently(tmp_path):
    settings = SettingsFile(DECLARED, tmp_path / "none.json")
    assert settings.load() == [] and settings["strength"] == 1.0


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "\xff\xfe"])
def test_unreadable_settings_fall_back_to_defaults_with_a_note(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_bytes(content.encode("latin-1"))
    settings = SettingsFile(DECLARED, path)
    problems = settings.load()
    assert len(problems) == 1 and "using defaults" in problems[0]
    assert settings["address"] == "tcp://127.0.0.1:5557"


def test_each_bad_value_falls_back_alone(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"strength": True, "whole_image": "yes", "address": "tcp://h:1", "extra": 1}))
    settings = SettingsFile(DECLARED, path)
    problems = settings.load()
    assert settings["strength"] == 1.0  # a bool is not a number here
    assert settings["whole_image"] is False
    assert settings["address"] == "tcp://h:1"  # the good value is kept
    assert len(problems) == 3 and any("unknown setting 'extra'" in problem for problem in problems)


def test_out_of_range_and_non_finite_values_are_refused(tmp_path):
    settings = SettingsFile(DECLARED, tmp_path / "s.json")
    for value in (1.5, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            settings.set("strength", value)
    settings.set("strength", 1)  # an int is a valid float
    assert settings["strength"] == 1.0 and isinstance(settings["strength"], float)


def test_install_record_checks_address_and_command(tmp_path):
    path = tmp_path / "deepflash_install.json"
    path.write_text(json.dumps({"address": "http://x", "serve_command": ["deepflash", 3], "python": "/py"}))
    record = SettingsFile(INSTALL_RECORD, path)
    assert len(record.load()) == 2
    assert record["address"] == "tcp://127.0.0.1:5557" and record["serve_command"] == []
    assert record["python"] == "/py"


# --- paths and messages -------------------------------------------------------------------------------

def test_config_and_log_folders_per_platform():
    assert user_config_dir({"HOME": "/h"}, "linux") == Path("/h/.config/deepflash")
    assert user_config_dir({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}, "linux") == Path("/x/deepflash")
    assert user_config_dir({"HOME": "/h"}, "darwin") == Path("/h/Library/Application Support/DeepFlash")
    assert user_config_dir({"APPDATA": "C:/AppData"}, "win32") == Path("C:/AppData/DeepFlash")
    assert plugin_log_path("gimp", {"HOME": "/h"}, "linux") == Path("/h/.config/deepflash/logs/gimp-plugin.log")


def test_log_file_is_created_and_named(tmp_path):
    from deepflash_editor.logfile import open_log

    log, path = open_log("test-editor", tmp_path / "logs" / "x.log")
    log.info("hello")
    for handler in log.handlers:
        handler.flush()
    assert path.read_text().strip().endswith("hello")


def test_messages_are_one_line():
    texts = [messages.server_down("tcp://a:1", LOG_PATH, True), messages.server_down("tcp://a:1", LOG_PATH, False),
             messages.no_face("untick it."), messages.done(2, False, 1.25, "L"), messages.server_status(None, "x"),
             messages.server_status({"device": "cpu", "state": "ready"}, "tcp://a:1")]
    assert all("\n" not in text for text in texts)
    assert messages.done(2, False, 1.25, "L") == "Corrected 2 faces in 1.2 s; the result is the new layer “L”."
    assert texts[-1] == "Server at tcp://a:1: ready (cpu)"


def test_without_pyzmq_the_stdio_helper_of_the_recorded_python_is_used(monkeypatch):
    """An editor Python without pyzmq: the request goes through ``python -m deepflash_client.stdio_bridge``."""
    import socket

    from deepflash_client import zmq_client
    from deepflash_client.stdio_client import StdioClient

    monkeypatch.setattr(zmq_client, "zmq", None)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connect = client_factory(python=sys.executable, serve_command=["deepflash", "serve"], may_start=lambda: True,
                             auto_start_helper=False, timeout_s=2.0)
    helper = connect(f"tcp://127.0.0.1:{port}")
    assert isinstance(helper, StdioClient) and helper.python == sys.executable
    context = make_context(FakeClient(), can_start=False)
    context.connect, context.address = connect, f"tcp://127.0.0.1:{port}"
    monkeypatch.chdir(REPO)  # the helper imports deepflash_core from the source tree
    outcome = run_job(small_job(), context)
    assert outcome.code == "server_down", outcome.message

    context.connect = client_factory(python="", serve_command=[], may_start=lambda: True, auto_start_helper=False)
    outcome = run_job(small_job(), context)
    assert outcome.code == "server_error" and "no pyzmq" in outcome.message


def test_the_server_status_line_says_its_state_once_and_only_its_own():
    from deepflash_editor import messages

    ready = messages.server_status({"device": "cpu", "state": "ready"}, "tcp://127.0.0.1:5557")
    assert ready.count("ready") == 1 and "cpu" in ready and "tcp://127.0.0.1:5557" in ready
    loading = messages.server_status({"device": "cpu", "state": "loading"}, "tcp://127.0.0.1:5557")
    assert "loading" in loading and "ready" not in loading
