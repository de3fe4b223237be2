"""The DeepFlash server: keeps one model warm and serves the CLI, the editor plug-ins and the web page.

``deepflash serve`` starts it (``python -m deepflash_app serve`` does the same); ``deepflash status`` asks whether one
answers. The wire protocol lives in :mod:`deepflash_client.protocol`, the client in :mod:`deepflash_client.zmq_client`.
"""
