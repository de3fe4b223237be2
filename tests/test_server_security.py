"""CURVE key files: private on creation, refused when others can read them."""

from __future__ import annotations

import os
import stat
import sys

import pytest
import zmq

from deepflash_client.errors import InvalidOptionError
from deepflash_server import security

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_generated_secret_keys_are_private_in_a_private_folder(tmp_path):
    old_mask = os.umask(0o022)  # the usual umask, under which files come out 0644
    try:
        keys = security.generate_keys(tmp_path / "keys")
    finally:
        os.umask(old_mask)
    assert _mode(keys) == 0o700
    assert _mode(keys / "server.key_secret") == 0o600
    assert _mode(keys / "client.key_secret") == 0o600


def _refusal_of(keys) -> str:
    """The one-line refusal of a CURVE server started on ``keys``."""
    context = zmq.Context()
    socket = context.socket(zmq.ROUTER)
    try:
        with pytest.raises(InvalidOptionError) as refused:
            security.enable_curve(context, socket, keys).stop()
    finally:
        socket.close(linger=0)
        context.term()
    return str(refused.value)


def test_a_secret_key_others_can_read_is_refused_with_the_fix(tmp_path):
    keys = security.generate_keys(tmp_path / "keys")
    secret = keys / "server.key_secret"
    os.chmod(secret, 0o644)
    message = _refusal_of(keys)
    assert "\n" not in message
    assert "0644" in message and f"chmod 600 {secret}" in message


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757], ids=["0777", "group-writable", "others-writable"])
def test_an_authorized_clients_folder_others_can_write_is_refused_with_the_fix(tmp_path, mode):
    keys = security.generate_keys(tmp_path / "keys")
    authorized = keys / security.AUTHORIZED_DIR
    os.chmod(authorized, mode)  # anyone who may add a key there is let in
    message = _refusal_of(keys)
    assert "\n" not in message and f"{mode:04o}" in message and f"chmod 700 {authorized}" in message


def test_a_private_secret_key_is_accepted(tmp_path):
    keys = security.generate_keys(tmp_path / "keys")
    secret = keys / "server.key_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600  # written private
    assert security.check_private(secret) is None  # accepted: no error
    context = zmq.Context()
    socket = context.socket(zmq.ROUTER)
    try:
        authenticator = security.enable_curve(context, socket, keys)
        assert socket.getsockopt(zmq.CURVE_SERVER) == 1
        authenticator.stop()
    finally:
        socket.close(linger=0)
        context.term()
