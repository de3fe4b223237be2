"""Who may talk to the server: loopback by default, CURVE-authenticated clients beyond it.

A bind address that other machines can reach (``tcp://*:5557``, ``tcp://0.0.0.0:5557``, a LAN address) is
refused unless a CURVE key directory is given. Make one with ``deepflash serve --generate-keys DIR``:

* ``DIR/server.key`` (public) and ``DIR/server.key_secret`` stay with the server;
* ``DIR/authorized_clients/*.key`` are the public keys of the clients allowed in;
* ``DIR/client.key_secret`` (with ``DIR/server.key``) is what a client needs:
  ``DeepFlashClient(address, curve=CurveKeys.load(DIR / "server.key", DIR / "client.key_secret"))``.

Then ``deepflash serve --bind tcp://0.0.0.0:5557 --curve-dir DIR``. Traffic is encrypted and only clients
whose public key sits in ``authorized_clients`` are accepted.

Secret keys are written 0600 in a 0700 directory, and, as ssh does, a secret key that other users can read or
write is refused.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from deepflash_client import protocol
from deepflash_client.errors import InvalidOptionError

AUTHORIZED_DIR = "authorized_clients"


def bind_host(address: str) -> str | None:
    """The host of a ``tcp://host:port`` address, None for local transports (ipc, inproc); any other address
    cannot be bound to and is refused."""
    transport, _, rest = address.partition("://")
    if transport not in ("ipc", "inproc") and (transport != "tcp" or ":" not in rest):
        raise InvalidOptionError(f"Cannot bind to '{address}'; use tcp://127.0.0.1:PORT or ipc://PATH.")
    return protocol.host_of(address)


def is_loopback(address: str) -> bool:
    """True when only this machine can reach ``address``."""
    bind_host(address)  # refuses what is not a bindable address
    return protocol.is_local(address)


def check_bind(address: str, curve_dir: Path | None) -> None:
    """Refuse a bind beyond loopback unless CURVE keys are configured.

    Raises:
        InvalidOptionError: with the way to configure keys.
    """
    if is_loopback(address) or curve_dir is not None:
        return
    raise InvalidOptionError(
        f"Refusing to serve on {address}: other machines could reach it without authentication. Bind to "
        "tcp://127.0.0.1:PORT, or create keys with `deepflash serve --generate-keys DIR` and add --curve-dir DIR.")


def generate_keys(directory: Path) -> Path:
    """Create a server key pair and one authorised client key pair in ``directory``; return the directory."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Private before any secret lands in it, so no other user can open a key in between.
    os.chmod(directory, 0o700)
    authorized = directory / AUTHORIZED_DIR
    authorized.mkdir(exist_ok=True)
    _, server_secret = zmq.auth.create_certificates(str(directory), "server")
    client_public, client_secret = zmq.auth.create_certificates(str(directory), "client")
    for secret in (server_secret, client_secret):
        os.chmod(secret, 0o600)
    shutil.copy(client_public, authorized / "client.key")
    return directory


def check_private(secret_file: Path) -> None:
    """Refuse a secret key that users other than its owner may read or write (no-op on Windows).

    Raises:
        InvalidOptionError: naming the file, its mode and the chmod that fixes it.
    """
    _refuse_mode(secret_file, 0o077, 0o600, f"Refusing to use the secret key {secret_file}: other users can "
                 "access it")


def check_not_writable_by_others(folder: Path) -> None:
    """Refuse a folder of admitted client keys that users other than its owner may write: anyone who could add
    a key there would be let in (no-op on Windows).

    Raises:
        InvalidOptionError: naming the folder, its mode and the chmod that fixes it.
    """
    _refuse_mode(folder, 0o022, 0o700, f"Refusing the client keys in {folder}: other users can add keys there")


def _refuse_mode(path: Path, forbidden: int, fix: int, why: str) -> None:
    """Raise InvalidOptionError (``why``, the mode, the chmod to ``fix``) when ``path``'s mode has ``forbidden`` bits."""
    if os.name == "nt":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & forbidden:
        raise InvalidOptionError(f"{why} (mode {mode:04o}); run `chmod {fix:o} {path}`.")


def enable_curve(context: zmq.Context, socket: zmq.Socket, curve_dir: Path) -> ThreadAuthenticator:
    """Make ``socket`` a CURVE server that admits the clients listed in ``curve_dir``."""
    secret_file = curve_dir / "server.key_secret"
    authorized = curve_dir / AUTHORIZED_DIR
    if not secret_file.is_file() or not authorized.is_dir():
        raise InvalidOptionError(f"{curve_dir} has no server.key_secret and {AUTHORIZED_DIR}/; create it with "
                                 "`deepflash serve --generate-keys DIR`.")
    check_private(secret_file)
    check_not_writable_by_others(authorized)
    try:
        public, secret = zmq.auth.load_certificate(str(secret_file))
    except (OSError, ValueError) as error:
        raise InvalidOptionError(f"Cannot read the server key {secret_file}: {error}.") from None
    authenticator = ThreadAuthenticator(context)
    authenticator.start()
    authenticator.configure_curve(domain="*", location=str(authorized))
    _set(socket, public, secret)
    return authenticator


def _set(socket: Any, public: bytes, secret: bytes | None) -> None:
    socket.curve_server = True
    socket.curve_publickey = public
    socket.curve_secretkey = secret
