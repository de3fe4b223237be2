"""The GIMP 3 plug-in (``deepflash/``) and the helpers both editor plug-ins share (``deepflash_common/``)."""
