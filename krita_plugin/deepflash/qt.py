"""The one place that imports Qt: PyQt5 (Krita 5) or PyQt6 (Krita 6), same names for the rest of the plug-in."""

from __future__ import annotations

try:
    from PyQt6 import QtCore, QtGui, QtWidgets

    QT_API = "PyQt6"
except ImportError:
    from PyQt5 import QtCore, QtGui, QtWidgets  # type: ignore[no-redef]

    QT_API = "PyQt5"

Signal = QtCore.pyqtSignal
Slot = QtCore.pyqtSlot
Qt = QtCore.Qt
QObject = QtCore.QObject
QThread = QtCore.QThread
QTimer = QtCore.QTimer

# PyQt6 only has scoped enums (Qt.Orientation.Horizontal); PyQt5 has both spellings.
HORIZONTAL = Qt.Orientation.Horizontal
ALIGN_CENTER = Qt.AlignmentFlag.AlignCenter
RICH_TEXT = Qt.TextFormat.RichText
PLAIN_TEXT = Qt.TextFormat.PlainText
