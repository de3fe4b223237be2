"""Shared by gimp_batch.py and krita_batch.py inside the editors: an address where no server listens.

A fixed "unused" port is not safe on a machine that runs other servers, so the port is taken from
the system and held (bound, never listening) while the case runs: connections to it are refused
and no other process can start listening there meanwhile.
"""

import contextlib
import socket


@contextlib.contextmanager
def unused_address():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"tcp://127.0.0.1:{holder.getsockname()[1]}"


@contextlib.contextmanager
def case_address(case):
    """The server's address for a case, or a refused one for a case that expects no server."""
    if case.get("address"):
        yield case["address"]
    else:
        with unused_address() as address:
            yield address
