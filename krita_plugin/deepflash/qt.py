"""The one place that imports Qt: PyQt5 (Krita 5) or PyQt6 (Krita 6), same names for the rest of the plug-in."""

from __future__ import annotations

try:
    from PyQt6 import QtCore, QtGui, QtWidgets

    QT_API = "PyQt6"
except ImportError:
    from PyQt5 import QtCore, QtGui, QtWidgets  # type: ignore[no-redef]

    QT_API = "PyQt5"

__all__ = ["QT_API", "QtCore", "QtGui", "QtWidgets", "Signal", "QThread", "QTimer", "HORIZONTAL", "SELECTABLE_TEXT",
           "TOOLTIP_ROLE"]

Signal = QtCore.pyqtSignal
QThread = QtCore.QThread
QTimer = QtCore.QTimer

# PyQt6 only has scoped enums (Qt.Orientation.Horizontal); PyQt5 accepts both spellings.
HORIZONTAL = QtCore.Qt.Orientation.Horizontal
SELECTABLE_TEXT = QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
TOOLTIP_ROLE = QtCore.Qt.ItemDataRole.ToolTipRole
