"""Requests off Krita's UI thread: one QThread per job or status check, results delivered by signal."""

from __future__ import annotations

from typing import Any

from deepflash_client.connect import connect
from deepflash_client.errors import DeepFlashError
from deepflash_editor.job import Context, CorrectionJob, run_job

from .document import LAYER_NAME
from .qt import QThread, Signal

STATUS_TIMEOUT_S = 5.0


class JobThread(QThread):
    """Runs one :func:`run_job`; ``finished_job`` carries the ``Outcome`` (never raises)."""

    finished_job = Signal(object)

    def __init__(self, job: CorrectionJob, context: Context, parent: Any = None) -> None:
        super().__init__(parent)
        self.job = job
        self.context = context

    def run(self) -> None:
        self.finished_job.emit(run_job(self.job, self.context, LAYER_NAME))


class StatusThread(QThread):
    """Pings the server once; ``status`` carries the ping reply (a dict) or None and the error text."""

    status = Signal(object, str)

    def __init__(self, address: str, python: str, parent: Any = None) -> None:
        super().__init__(parent)
        self.address = address
        self.python = python

    def run(self) -> None:
        try:
            client = connect(self.address, timeout_s=STATUS_TIMEOUT_S, retries=0, python=self.python or None)
            reply = client.ping()
        except DeepFlashError:
            self.status.emit(None, "")
            return
        except Exception as error:  # a broken helper or socket must not kill the thread silently
            self.status.emit(None, f"{type(error).__name__}: {error}")
            return
        self.status.emit(reply, "")
