"""The DeepFlash docker: server status, the options, Apply, progress and the last message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from krita import DockWidget, Krita

from deepflash_editor import messages
from deepflash_editor.connection import can_start, client_factory
from deepflash_editor.job import Context, Job, Outcome
from deepflash_editor.logfile import open_log
from deepflash_core.options import BACKGROUNDS, STRENGTH_RANGE
from deepflash_editor.settings import install_record

from .document import DocumentError, LayerPixels, add_result_layer, read_active_layer
from .qt import HORIZONTAL, SELECTABLE_TEXT, QTimer, QtWidgets
from .settings import krita_settings, options_of
from .worker import JobThread, StatusThread

PLUGIN_DIR = Path(__file__).resolve().parent
STATUS_INTERVAL_MS = 15_000
WHOLE_IMAGE_HINT = "untick “Faces only” in the DeepFlash docker."
BACKGROUND_LABELS = {"keep": "Keep", "lift": "Lift"}


class DeepFlashDocker(DockWidget):
    """The docker widget; the work happens in :mod:`.document` and :mod:`.worker`."""

    instances: list[DeepFlashDocker] = []  # one per Krita window; lets scripts find and drive them

    def __init__(self) -> None:
        super().__init__()
        DeepFlashDocker.instances.append(self)
        self.setWindowTitle("DeepFlash")
        self.log, self.log_path = open_log("krita")
        record = install_record(PLUGIN_DIR)
        for problem in record.load():
            self.log.warning("install record: %s", problem)
        self.record = record
        self.settings = krita_settings()
        for problem in self.settings.load():
            self.log.warning("settings: %s", problem)
        self.job_thread: JobThread | None = None
        self.status_thread: StatusThread | None = None
        self.source: LayerPixels | None = None
        self._build()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check_server)
        self.timer.start(STATUS_INTERVAL_MS)
        QTimer.singleShot(0, self.check_server)

    # -- layout --------------------------------------------------------------------------------------------

    def _build(self) -> None:
        body = QtWidgets.QWidget(self)
        layout = QtWidgets.QVBoxLayout(body)
        self.status_label = QtWidgets.QLabel("● Checking the server…", body)
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)

        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Strength", body))
        self.strength_slider = QtWidgets.QSlider(HORIZONTAL, body)
        self.strength_slider.setRange(round(STRENGTH_RANGE[0] * 100), round(STRENGTH_RANGE[1] * 100))
        self.strength_slider.setValue(round(self.settings["strength"] * 100))
        self.strength_value = QtWidgets.QLabel(body)
        row.addWidget(self.strength_slider, 1)
        row.addWidget(self.strength_value)
        layout.addLayout(row)

        self.faces_only = QtWidgets.QCheckBox("Faces only", body)
        self.faces_only.setChecked(not self.settings["whole_image"])
        self.faces_only.setToolTip("Untick to correct the whole layer, also without a detected face.")
        layout.addWidget(self.faces_only)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Background", body))
        self.background = QtWidgets.QComboBox(body)
        for name in BACKGROUNDS:
            self.background.addItem(BACKGROUND_LABELS[name], name)
        self.background.setCurrentIndex(BACKGROUNDS.index(self.settings["background"]))
        self.background.setToolTip("Keep everything outside the person as it is, or lift the backdrop smoothly.")
        row.addWidget(self.background, 1)
        layout.addLayout(row)
        self.red_eye = QtWidgets.QCheckBox("Fix red eyes", body)
        self.red_eye.setChecked(self.settings["red_eye"])
        layout.addWidget(self.red_eye)
        self.matte_mask = QtWidgets.QCheckBox("Add the subject matte as the layer mask", body)
        self.matte_mask.setChecked(self.settings["with_matte"])
        self.matte_mask.setToolTip("Mask the new layer with the person's matte (and the selection, if any).")
        layout.addWidget(self.matte_mask)
        self.start_server = QtWidgets.QCheckBox("Start the server when needed", body)
        self.start_server.setChecked(self.settings["start_server"])
        layout.addWidget(self.start_server)

        self.apply_button = QtWidgets.QPushButton("Apply", body)
        self.apply_button.setToolTip("Add the studio-lit result as a new layer above the active one.")
        layout.addWidget(self.apply_button)
        self.progress = QtWidgets.QProgressBar(body)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        layout.addWidget(self.progress)
        self.message_label = QtWidgets.QLabel("", body)
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(SELECTABLE_TEXT)  # the log path can be copied
        layout.addWidget(self.message_label)
        layout.addStretch(1)
        self.setWidget(body)

        self.strength_slider.valueChanged.connect(self._strength_changed)
        self.faces_only.toggled.connect(lambda checked: self._save("whole_image", not checked))
        self.background.currentIndexChanged.connect(lambda index: self._save("background", BACKGROUNDS[index]))
        self.red_eye.toggled.connect(lambda checked: self._save("red_eye", checked))
        self.matte_mask.toggled.connect(lambda checked: self._save("with_matte", checked))
        self.start_server.toggled.connect(lambda checked: self._save("start_server", checked))
        self.apply_button.clicked.connect(self.apply)
        self._strength_changed(self.strength_slider.value())

    # -- Krita hooks -----------------------------------------------------------------------------------

    def canvasChanged(self, canvas: Any) -> None:  # noqa: N802 (Krita's name)
        self.apply_button.setEnabled(self.job_thread is None and Krita.instance().activeDocument() is not None)

    # -- settings --------------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return self.settings["address"] or self.record["address"]

    def _strength_changed(self, value: int) -> None:
        self.strength_value.setText(f"{value}%")
        self._save("strength", value / 100)

    def _save(self, name: str, value: Any) -> None:
        try:
            self.settings.set(name, value)
            self.settings.save()
        except (OSError, ValueError) as error:
            self.log.warning("cannot save setting %s: %s", name, error)

    # -- server status ---------------------------------------------------------------------------------

    def check_server(self) -> None:
        if self.status_thread is not None or self.job_thread is not None:
            return
        self.status_thread = StatusThread(self.address, self.record["python"], self)
        self.status_thread.status.connect(self._show_status)
        self.status_thread.finished.connect(self._status_done)
        self.status_thread.start()

    def _show_status(self, info: dict | None, error: str) -> None:
        colour = "#3a3" if info is not None else "#c33"
        self.status_label.setText(f'<span style="color:{colour}">●</span> '
                                  f"{messages.server_status(info, self.address, error)}")

    def _status_done(self) -> None:
        self.status_thread = None

    # -- applying ------------------------------------------------------------------------------------------

    def apply(self, document: Any = None) -> None:
        """Read the active layer of ``document`` (default: the active document), then send it from a worker thread."""
        if self.job_thread is not None:
            return
        try:
            self.source = read_active_layer(document or Krita.instance().activeDocument())
        except DocumentError as error:
            self.show_message(str(error))
            return
        start = self.settings["start_server"]
        job = Job(self.source.pixels, self.source.width, self.source.height, 4, self.source.layout.protocol_dtype,
                  options_of(self.settings))
        context = Context(address=self.address,
                          connect=client_factory(self.record["python"], self.record["serve_command"],
                                                 lambda: start, start),
                          can_start=can_start(self.record["python"], self.record["serve_command"]),
                          log=self.log, log_path=self.log_path, whole_image_hint=WHOLE_IMAGE_HINT)
        self.job_thread = JobThread(job, context, self)
        self.job_thread.finished_job.connect(self.finish)
        self.apply_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy: the server reports no intermediate progress
        self.show_message("Sending the layer to the DeepFlash server…")
        self.job_thread.start()

    def finish(self, outcome: Outcome) -> None:
        """Back on the UI thread: add the layer or show why not."""
        thread, self.job_thread = self.job_thread, None
        if thread is not None:
            thread.wait()
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if outcome.ok else 0)
        self.apply_button.setEnabled(True)
        source, self.source = self.source, None
        if outcome.ok and source is not None:
            try:
                add_result_layer(source, outcome.pixels, outcome.matte)
            except Exception as error:  # the document may have closed meanwhile
                self.log.exception("adding the layer failed")
                outcome = Outcome(False, "unexpected", messages.unexpected(error, self.log_path))
        self.show_message(outcome.message)
        self.check_server()

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.log.info("message: %s", text)
