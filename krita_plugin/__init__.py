"""The Krita plug-in: ``deepflash.desktop`` and the ``deepflash`` pykrita package beside it."""
