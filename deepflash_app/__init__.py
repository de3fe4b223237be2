"""The DeepFlash application: the ``deepflash`` command and its subcommands.

The only package that knows every part: it drives the core (``deepflash_core``) and training
(``deepflash_train``), starts the server (``deepflash_server``), opens the web page (``deepflash_web``) and
installs the editor plug-ins (``deepflash_gimp``, ``deepflash_krita``, with ``deepflash_client`` and
``deepflash_editor`` vendored into them). Nothing imports it.
"""
