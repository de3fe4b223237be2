"""The DeepFlash client kit: what a program needs to talk to a DeepFlash server, standard library only.

Errors, the correction ``Options`` and their ranges, the wire protocol, the per-user state files, the
ZeroMQ client (pyzmq, optional) and the stdio client for editor Pythons without pyzmq, the server launch
and the stdio bridge. ``deepflash install`` copies this folder whole into the editor plug-ins.
"""
