"""The GIMP 3 plug-in (``deepflash/``); ``deepflash install gimp`` vendors ``deepflash_editor`` beside it."""
