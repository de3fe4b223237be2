"""The DeepFlash application: the ``deepflash`` command and its subcommands.

The only package that knows every part: it drives the core (``deepflash_core``), starts the server
(``server``), opens the web page (``web_demo``) and installs the editor plug-ins (``gimp_plugin``,
``krita_plugin`` with ``deepflash_editor`` vendored into them). Nothing imports it.
"""
