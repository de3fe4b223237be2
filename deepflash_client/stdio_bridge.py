"""Helper process for editor Pythons without pyzmq: one request on stdin, its reply on stdout.

Run from the DeepFlash environment as ``python -m deepflash_client.stdio_bridge --address ADDR``. It reads
the request's frames (as written by :func:`deepflash_client.stdio_frames.write_frames`), forwards them to the
server with :class:`~deepflash_client.zmq_client.DeepFlashClient` (Lazy Pirate retries, optional server start)
and writes the reply's frames back. Every failure becomes an error reply, so the caller always gets a
well-formed answer. :class:`~deepflash_client.stdio_client.StdioClient` is the other side.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from deepflash_client import protocol
from deepflash_client.errors import DeepFlashError, ServerError, ServerUnavailableError
from deepflash_client.stdio_frames import read_frames, write_frames
from deepflash_client.zmq_client import DeepFlashClient, ServerLaunch


def forward(frames: Sequence[Any], client: DeepFlashClient) -> list[Any]:
    """Send a request's frames through ``client`` and return the reply's frames (errors as error replies)."""
    if not frames:
        return [protocol.encode_error(protocol.E_BAD_REQUEST, "The request is empty.")]
    request_id = protocol.request_id_of(frames[0])
    try:
        reply = client.request(frames)
    except ServerUnavailableError as error:
        return [protocol.encode_error(protocol.E_UNAVAILABLE, str(error), None, request_id)]
    except ServerError as error:
        return [protocol.encode_error(error.code, str(error), None, request_id)]
    header = protocol.encode_reply(reply.op, reply.request_id, **{"status": reply.status, **reply.fields})
    return [header, *(frame for frame in (reply.pixels, reply.matte) if frame is not None)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepflash_client.stdio_bridge", description=__doc__)
    parser.add_argument("--address", default=protocol.DEFAULT_ADDRESS)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--auto-start", action="store_true", help="start a server when none answers")
    args = parser.parse_args(argv)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        frames = read_frames(stdin, protocol.Limits().max_message_bytes)
        client = DeepFlashClient(args.address, args.timeout, args.retries,
                                 auto_start=ServerLaunch() if args.auto_start else False)
        reply = forward(frames, client)
    except (protocol.ProtocolError, DeepFlashError) as error:
        reply = [protocol.encode_error(getattr(error, "code", protocol.E_BAD_REQUEST), str(error))]
    write_frames(stdout, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
