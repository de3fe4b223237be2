"""The docker's state without Qt: settings, the look menu, server status, the running job and the last message.

The widget in :mod:`.docker` builds the controls, forwards what the user does here and redraws when a
listener is told what changed ("message", "status" or "busy"); this module imports neither Krita nor Qt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepflash_editor import messages
from deepflash_editor.connection import can_start, client_factory
from deepflash_editor.job import Context, CorrectionJob, Outcome
from deepflash_editor.logfile import open_log
from deepflash_editor.looks import REFERENCE, Reference, look_menu
from deepflash_editor.settings import SettingsFile, install_record

from .settings import krita_settings, options_of

WHOLE_IMAGE_HINT = "untick “Faces only” in the DeepFlash docker."
REFERENCE_LABEL = "From another open document or layer"
CHECKING = "Checking the server…"


class DockerModel:
    """One docker's state; ``listeners`` are called with the name of what changed."""

    def __init__(self, settings: SettingsFile, record: SettingsFile, log: logging.Logger, log_path: Path) -> None:
        self.settings, self.record, self.log, self.log_path = settings, record, log, log_path
        self.listeners: list[Callable[[str], None]] = []
        self.look_entries = look_menu(record["looks"], REFERENCE_LABEL)
        self.message = ""
        self.status, self.server_up = CHECKING, None  # server_up: None until the first answer (or silence)
        self.source: Any = None  # the layer being corrected; set while a job runs
        self.running = False
        if self.settings["look"] not in self.look_names:  # a preset this DeepFlash no longer ships: said, not hidden
            self.log.warning("the saved look %r is not offered; showing %r", self.settings["look"], self.look_names[0])
            self.message = f"The look “{self.settings['look']}” is no longer offered; choose a look."

    @classmethod
    def open(cls, plugin_dir: Path, settings_path: Path | None = None, log_path: Path | None = None) -> DockerModel:
        """The state of a docker installed in ``plugin_dir``: its log, install record and saved settings loaded."""
        log, log_path = open_log("krita", log_path)
        record = install_record(plugin_dir)
        for problem in record.load():
            log.warning("install record: %s", problem)
        settings = krita_settings(settings_path)
        for problem in settings.load():
            log.warning("settings: %s", problem)
        return cls(settings, record, log, log_path)

    def _changed(self, what: str) -> None:
        for listener in self.listeners:
            listener(what)

    # -- settings --------------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return self.settings["address"] or self.record["address"]

    @property
    def look_names(self) -> list[str]:
        return [entry.name for entry in self.look_entries]

    @property
    def look_index(self) -> int:
        """The menu entry of the saved look (the first when it is no longer offered)."""
        names = self.look_names
        return names.index(self.settings["look"]) if self.settings["look"] in names else 0

    @property
    def wants_reference(self) -> bool:
        return self.settings["look"] == REFERENCE

    def choose_look(self, index: int) -> None:
        self.save("look", self.look_entries[index].name)

    def save(self, name: str, value: Any) -> None:
        """Remember one setting; a failure to write is logged, the docker goes on with the value."""
        try:
            self.settings.set(name, value)
            self.settings.save()
        except (OSError, ValueError) as error:
            self.log.warning("cannot save setting %s: %s", name, error)

    # -- server status and messages ----------------------------------------------------------------------

    def server_status(self, info: dict | None, error: str = "") -> None:
        """A ping's reply (None when nothing answered) becomes the status line."""
        self.server_up = info is not None
        self.status = messages.server_status(info, self.address, error)
        self._changed("status")

    def show_message(self, text: str) -> None:
        self.message = text
        self.log.info("message: %s", text)
        self._changed("message")

    # -- a job ---------------------------------------------------------------------------------------------

    def start(self, source: Any, reference: Reference | None) -> tuple[CorrectionJob, Context]:
        """The job for ``source`` (a ``LayerPixels``) and how it reaches the server; the docker is busy until
        :meth:`finish`."""
        if self.running:
            raise RuntimeError("a job is already running")
        start = self.settings["start_server"]
        python, serve = self.record["python"], self.record["serve_command"]
        job = CorrectionJob(source.pixels, source.width, source.height, 4, source.dtype, options_of(self.settings),
                            reference)
        context = Context(address=self.address, connect=client_factory(python, serve, lambda: start, start),
                          can_start=can_start(python, serve), log=self.log, log_path=self.log_path,
                          whole_image_hint=WHOLE_IMAGE_HINT)
        self.source, self.running = source, True
        self._changed("busy")
        self.show_message("Sending the layer to the DeepFlash server…")
        return job, context

    def finish(self, outcome: Outcome, add_layer: Callable[[Any, bytes, bytes | None], Any]) -> Outcome:
        """Add the result with ``add_layer(source, pixels, matte)`` or say why not; returns what was shown."""
        source, self.source, self.running = self.source, None, False
        if outcome.ok and source is not None:
            try:
                add_layer(source, outcome.pixels, outcome.matte)
            except Exception as error:  # the document may have closed meanwhile
                self.log.exception("adding the layer failed")
                outcome = Outcome(False, "unexpected", messages.unexpected(error, self.log_path))
        self._changed("busy")
        self.show_message(outcome.message)
        return outcome
