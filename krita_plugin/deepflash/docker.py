"""The DeepFlash docker: server status, the options, Apply, progress and the last message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from krita import DockWidget, Krita

from deepflash_client.options import BACKGROUNDS, STRENGTH_RANGE
from deepflash_editor import messages
from deepflash_editor.job import Outcome
from deepflash_editor.looks import Reference

from .document import DocumentError, add_result_layer, image_layers, read_active_layer, read_layer
from .model import DockerModel
from .qt import HORIZONTAL, SELECTABLE_TEXT, TOOLTIP_ROLE, QTimer, QtWidgets
from .worker import JobThread, StatusThread

PLUGIN_DIR = Path(__file__).resolve().parent
STATUS_INTERVAL_MS = 15_000
BACKGROUND_LABELS = {"keep": "Keep", "lift": "Lift"}
REFERENCE_WHAT = "reference document and layer (“Reference”)"


class DeepFlashDocker(DockWidget):
    """The docker widget: builds the controls and shows :class:`.model.DockerModel`; the layers are read and
    written in :mod:`.document`, requests run in :mod:`.worker`."""

    instances: list[DeepFlashDocker] = []  # one per Krita window; lets scripts find and drive them

    def __init__(self) -> None:
        super().__init__()
        DeepFlashDocker.instances.append(self)
        self.setWindowTitle("DeepFlash")
        self.model = DockerModel.open(PLUGIN_DIR)
        self.settings = self.model.settings  # scripts (and the editor tests) set options through it
        self.job_thread: JobThread | None = None
        self.status_thread: StatusThread | None = None
        self._build()
        self.model.listeners.append(self._model_changed)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check_server)
        self.timer.start(STATUS_INTERVAL_MS)
        QTimer.singleShot(0, self.check_server)

    # -- layout --------------------------------------------------------------------------------------------

    def _build(self) -> None:
        body = QtWidgets.QWidget(self)
        layout = QtWidgets.QVBoxLayout(body)
        self.status_label = QtWidgets.QLabel(f"● {self.model.status}", body)
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
        row.addWidget(QtWidgets.QLabel("Look", body))
        self.look = QtWidgets.QComboBox(body)
        self.look_entries = self.model.look_entries
        for index, entry in enumerate(self.look_entries):
            self.look.addItem(entry.label, entry.name)
            self.look.setItemData(index, entry.description, TOOLTIP_ROLE)
        self.look.setCurrentIndex(self.model.look_index)
        self.look.setToolTip("The light to correct toward: a preset, the photo's own, or another open portrait's.")
        row.addWidget(self.look, 1)
        layout.addLayout(row)
        self.reference_row = QtWidgets.QWidget(body)
        row = QtWidgets.QHBoxLayout(self.reference_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QtWidgets.QLabel("Reference", self.reference_row))
        self.reference = QtWidgets.QComboBox(self.reference_row)
        self.reference.setToolTip("The portrait whose light and colour to take (its largest face).")
        self.reference_choices: list[tuple[Any, Any, str]] = []
        row.addWidget(self.reference, 1)
        layout.addWidget(self.reference_row)
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
        self.message_label = QtWidgets.QLabel(self.model.message, body)
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(SELECTABLE_TEXT)  # the log path can be copied
        layout.addWidget(self.message_label)
        layout.addStretch(1)
        self.setWidget(body)

        self.strength_slider.valueChanged.connect(self._strength_changed)
        self.faces_only.toggled.connect(lambda checked: self.model.save("whole_image", not checked))
        self.background.currentIndexChanged.connect(lambda index: self.model.save("background", BACKGROUNDS[index]))
        self.look.currentIndexChanged.connect(self._look_changed)
        self.red_eye.toggled.connect(lambda checked: self.model.save("red_eye", checked))
        self.matte_mask.toggled.connect(lambda checked: self.model.save("with_matte", checked))
        self.start_server.toggled.connect(lambda checked: self.model.save("start_server", checked))
        self.apply_button.clicked.connect(self.apply)
        self._strength_changed(self.strength_slider.value())
        self._look_changed(self.look.currentIndex())

    # -- Krita hooks -----------------------------------------------------------------------------------

    def canvasChanged(self, canvas: Any) -> None:  # noqa: N802 (Krita's name)
        self.apply_button.setEnabled(self.job_thread is None and Krita.instance().activeDocument() is not None)
        self.refresh_references()

    # -- settings --------------------------------------------------------------------------------------

    def _strength_changed(self, value: int) -> None:
        self.strength_value.setText(f"{value}%")
        self.model.save("strength", value / 100)

    def _look_changed(self, index: int) -> None:
        self.model.choose_look(index)
        self.reference_row.setVisible(self.model.wants_reference)
        if self.model.wants_reference:
            self.refresh_references()

    def refresh_references(self) -> None:
        """List the open documents' layers as references, keeping the chosen one when it is still open."""
        chosen = self.chosen_reference()
        self.reference_choices = image_layers(list(Krita.instance().documents()))
        self.reference.blockSignals(True)
        self.reference.clear()
        for _, _, label in self.reference_choices:
            self.reference.addItem(label)
        keep = [index for index, (_, node, _) in enumerate(self.reference_choices) if chosen and node == chosen[1]]
        self.reference.setCurrentIndex(keep[0] if keep else -1)
        self.reference.blockSignals(False)

    def chosen_reference(self) -> tuple[Any, Any, str] | None:
        index = self.reference.currentIndex()
        return self.reference_choices[index] if 0 <= index < len(self.reference_choices) else None

    def choose_reference(self, document: Any, node: Any) -> None:
        """Pick ``node`` of ``document`` as the reference (what choosing it in the combo does; scripts call it)."""
        self.refresh_references()
        for index, (_, candidate, _) in enumerate(self.reference_choices):
            if candidate == node:
                self.reference.setCurrentIndex(index)
                return
        raise DocumentError(f"{node.name()} is not an image layer of an open document.")

    def _reference(self) -> Reference | None:
        """The chosen reference layer's pixels when the Look asks for one."""
        if not self.model.wants_reference:
            return None
        self.refresh_references()  # a reference whose document was closed is no longer a choice
        chosen = self.chosen_reference()
        if chosen is None:
            raise DocumentError(messages.no_reference(REFERENCE_WHAT))
        layer = read_layer(chosen[0], chosen[1])
        return Reference(layer.pixels, layer.width, layer.height, 4, layer.dtype)

    # -- server status ---------------------------------------------------------------------------------

    def check_server(self) -> None:
        if self.status_thread is not None or self.job_thread is not None:
            return
        self.status_thread = StatusThread(self.model.address, self.model.record["python"], self)
        self.status_thread.status.connect(self._show_status)  # a method of this QObject: runs on the UI thread
        self.status_thread.finished.connect(self._status_done)
        self.status_thread.start()

    def _show_status(self, info: dict | None, error: str) -> None:
        self.model.server_status(info, error)

    def _status_done(self) -> None:
        self.status_thread = None

    def _model_changed(self, what: str) -> None:
        if what == "status":
            colour = "#3a3" if self.model.server_up else "#c33"
            self.status_label.setText(f'<span style="color:{colour}">●</span> {self.model.status}')
        elif what == "message":
            self.message_label.setText(self.model.message)
        elif what == "busy":
            self.apply_button.setEnabled(not self.model.running)

    # -- applying ------------------------------------------------------------------------------------------

    def apply(self, document: Any = None) -> None:
        """Read the active layer of ``document`` (default: the active document), then send it from a worker thread."""
        if self.job_thread is not None:
            return
        try:
            source = read_active_layer(document or Krita.instance().activeDocument())
            reference = self._reference()
        except DocumentError as error:
            self.model.show_message(str(error))
            return
        job, context = self.model.start(source, reference)
        self.job_thread = JobThread(job, context, self)
        self.job_thread.finished_job.connect(self.finish)
        self.progress.setRange(0, 0)  # busy: the server reports no intermediate progress
        self.job_thread.start()

    def finish(self, outcome: Outcome) -> None:
        """Back on the UI thread: add the layer or show why not."""
        thread, self.job_thread = self.job_thread, None
        if thread is not None:
            thread.wait()
        outcome = self.model.finish(outcome, add_result_layer)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if outcome.ok else 0)
        self.check_server()
