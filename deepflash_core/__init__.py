"""DeepFlash core: turn a phone-flash portrait into a studio-lit one.

This package's top level imports nothing heavy: the ZeroMQ client and protocol
are vendored into editor plug-ins whose Python has no torch or numpy.
"""

__version__ = "0.1.0"
