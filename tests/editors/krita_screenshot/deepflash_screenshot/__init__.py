"""Test helper for the docs: in a real Krita under Xvfb, show the DeepFlash docker with the Look taken from another
open document (the reference portrait), press Apply, grab the window, and undo once.

Installed only into the test root (never shipped). Writes krita_window.png (the whole window: canvas, layers
panel with the new layer, the docker) into $DEEPFLASH_EDITOR_WORK, then a ``screenshots.done`` file the
harness waits for.
"""

import json
import os
import time
from pathlib import Path

from krita import Extension, Krita, Selection

from deepflash.qt import QTimer

WORK = Path(os.environ.get("DEEPFLASH_EDITOR_WORK", "/tmp/deepflash-editors"))
SCREEN = (1400, 900)  # the harness's Xvfb screen


class Screenshot(Extension):
    def setup(self):
        Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(3000, self.open))

    def createActions(self, window):  # noqa: N802 (Krita's name)
        pass

    def open(self):
        app = Krita.instance()
        self.document = app.openDocument(str(WORK / "portrait8.png"))
        self.window = app.activeWindow()
        self.window.qwindow().setGeometry(0, 0, SCREEN[0], SCREEN[1])  # no window manager maximises it
        self.window.addView(self.document)
        from deepflash.docker import DeepFlashDocker

        self.docker = DeepFlashDocker.instances[-1]
        self.docker.setMinimumSize(300, 390)  # docked, it would only get what the other dockers leave
        self.docker.show()
        self.docker.raise_()
        from deepflash_editor.looks import REFERENCE

        self.reference = app.openDocument(str(WORK / "reference.png"))  # open, not shown: another document
        self.docker.look.setCurrentIndex([entry.name for entry in self.docker.look_entries].index(REFERENCE))
        self.docker.choose_reference(self.reference, self.reference.topLevelNodes()[0])
        QTimer.singleShot(4000, self.apply)

    def apply(self):
        self.docker.apply(self.document)
        self.poll = QTimer()
        self.poll.timeout.connect(self.wait)
        self.poll.start(200)

    def wait(self):
        if self.docker.job_thread is None:
            self.poll.stop()
            QTimer.singleShot(1500, self.grab)

    def grab(self):
        self.window.qwindow().grab().save(str(WORK / "krita_window.png"))
        report = {"message": self.docker.message_label.text(), "layers": self._layers(),
                  "reference": self.docker.reference.currentText()}
        # One Ctrl+Z must remove the whole result (the layer with its pixels).
        Krita.instance().action("edit_undo").trigger()
        QTimer.singleShot(1500, lambda: self.after_undo(report))

    def after_undo(self, report):
        report["layers_after_one_undo"] = self._layers()
        self.masked = []
        self.apply_masked(report, [("selection", False), ("matte", True), ("selection+matte", True)])

    def apply_masked(self, report, runs):
        """With a selection, the subject matte or both, one undo must remove the result and its mask at once."""
        if not runs:
            report["masked"] = self.masked
            (WORK / "screenshots.done").write_text(json.dumps(report))
            return
        (name, matte), rest = runs[0], runs[1:]
        selection = None
        if "selection" in name:
            selection = Selection()
            selection.select(40, 30, 120, 150, 255)  # host_side.SELECTION, over the face
        self.document.setSelection(selection)
        self.docker.matte_mask.setChecked(matte)
        QTimer.singleShot(1500, lambda: self.apply_once(report, name, rest))

    def apply_once(self, report, name, rest):
        self.document.waitForDone()  # the selection is set: its own undo step is recorded before the result's
        before = self._tree()
        self.docker.apply(self.document)
        deadline = time.monotonic() + 180

        def done():
            added = len(self._tree()) > len(before)
            if (self.docker.job_thread is not None or not added) and time.monotonic() < deadline:
                QTimer.singleShot(200, done)
                return
            self.document.waitForDone()
            QTimer.singleShot(1500, undo)

        def undo():
            after = self._tree()
            Krita.instance().action("edit_undo").trigger()
            QTimer.singleShot(1500, lambda: finish(after))

        def finish(after):
            self.masked.append({"case": name, "before": before, "after_apply": after,
                                "after_one_undo": self._tree(), "message": self.docker.message_label.text()})
            self.apply_masked(report, rest)

        QTimer.singleShot(200, done)

    def _tree(self):
        return [[node.name(), [child.name() for child in node.childNodes()]] for node in self.document.topLevelNodes()]

    def _layers(self):
        return [node.name() for node in self.document.topLevelNodes()]


Krita.instance().addExtension(Screenshot(Krita.instance()))
