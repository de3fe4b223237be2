"""The GIMP 3 plug-in (``deepflash/``) and the editor-independent helpers both plug-ins share (``deepflash_common/``)."""
