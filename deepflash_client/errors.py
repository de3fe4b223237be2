"""Typed errors with a one-line human message.

Standard library only: editor plug-ins import this module through the client.
"""

from __future__ import annotations

import re


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """``text`` safe for a terminal: control characters (a newline or an escape sequence in a file name) shown
    as Python escapes (``\\n``, ``\\x1b``) instead of acting."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), str(text))


def one_line(message: str) -> str:
    """``message`` as one printable line: whitespace runs folded to one space, other control characters escaped."""
    return printable(" ".join(message.split()))


class DeepFlashError(Exception):
    """Base of every error the product reports to a user.

    ``str(error)`` is one line that says what went wrong and, where it helps,
    what to do; front ends print it without a traceback.
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))

    @property
    def message(self) -> str:
        return str(self)


class ImageReadError(DeepFlashError):
    """A file is missing, empty, corrupt, or not an image Pillow understands."""


class ImageWriteError(DeepFlashError):
    """The output could not be written (format, permissions, disk)."""


class ImageTooLargeError(DeepFlashError):
    """The image exceeds the configured pixel or dimension limits."""


class NoFaceError(DeepFlashError):
    """No face was found and the whole-image mode was not asked for."""


class WeightsError(DeepFlashError):
    """Weights are missing, corrupt, or do not match their model card."""


class InvalidOptionError(DeepFlashError):
    """An option is out of range or unknown."""


class ServerError(DeepFlashError):
    """The server answered with an error reply (``code`` names the kind)."""

    def __init__(self, message: str, code: str = "internal") -> None:
        super().__init__(message)
        self.code = code


class ServerUnavailableError(DeepFlashError):
    """No server answered at the address within the timeout."""


class ServerStartError(ServerUnavailableError):
    """No server answered, and starting one failed (the message says why and names its log)."""


class LookReferenceError(DeepFlashError):
    """A photo given as a look's reference cannot describe a light (tiny or no face, greyscale, not a photo)."""
