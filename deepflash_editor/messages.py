"""What the plug-ins tell the user, worded once for both editors.

Every failure message says what happened, what to do, and names the plug-in's log file.
"""

from __future__ import annotations

from pathlib import Path

from deepflash_client.protocol import host_of, is_local


def _see_log(log_path: Path) -> str:
    return f"Details: {log_path}"


def server_down(address: str, log_path: Path, can_start: bool) -> str:
    """No server answered at ``address`` and none was started."""
    if not is_local(address):  # a plug-in starts servers on this machine only
        hint = (f"The server runs on {host_of(address)}: start it there with `deepflash serve --bind …` (beyond loopback "
                f"with --curve-dir), or correct the address in the plug-in's settings.")
    elif can_start:
        hint = "Allow the plug-in to start it, or run `deepflash serve` in a terminal."
    else:
        hint = "Start it with `deepflash serve` in a terminal (or run `deepflash install` again to record its Python)."
    return f"No DeepFlash server answers at {address}. {hint} {_see_log(log_path)}"


def server_start_failed(address: str, reason: str, log_path: Path) -> str:
    """Starting the local server was tried and failed."""
    return f"Could not start the DeepFlash server at {address}: {reason} {_see_log(log_path)}"


def ask_start_server(address: str) -> str:
    """The question asked before starting the server in an interactive session."""
    return f"No DeepFlash server answers at {address}. Start it now? (The first start loads the model, a few seconds.)"


def no_face(whole_image_hint: str) -> str:
    """The server found no face and the whole-image mode was off."""
    return f"No face found in this layer, so nothing was changed. To correct it anyway, {whole_image_hint}"


def bad_reference(message: str, log_path: Path) -> str:
    """The layer chosen as the look's reference cannot give one (the server's line says why)."""
    return f"{message} Nothing was changed: choose another reference, or a preset look. {_see_log(log_path)}"


def no_reference(what: str) -> str:
    """The Look menu asks for a reference and none is chosen."""
    return f"Choose the {what} whose look to take, or a preset look."


def server_failed(message: str, log_path: Path) -> str:
    """The server refused or failed the request (its own message is one line)."""
    return f"DeepFlash failed: {message} {_see_log(log_path)}"


def unexpected(error: BaseException, log_path: Path) -> str:
    """A bug or an environment problem the plug-in did not foresee."""
    return f"DeepFlash hit an unexpected error ({type(error).__name__}: {error}). {_see_log(log_path)}"


def corrected(faces: int, whole_image: bool, seconds: float) -> str:
    """Success in a few words, short enough for GIMP's status bar."""
    what = "the whole image" if whole_image else f"{faces} face{'s' if faces != 1 else ''}"
    return f"Corrected {what} in {seconds:.1f} s"


def done(faces: int, whole_image: bool, seconds: float, layer_name: str) -> str:
    """Success, said in the status line."""
    return f"{corrected(faces, whole_image, seconds)}; the result is the new layer “{layer_name}”."


def server_status(info: dict | None, address: str, error: str = "") -> str:
    """The docker's one-line server status, from a ``ping`` reply (None when nothing answered)."""
    if info is None:
        return f"No server at {address}" + (f" ({error})" if error else "")
    device, state = info.get("device"), info.get("state") or "answering"
    return f"Server at {address}: {state}" + (f" ({device})" if device else "")
