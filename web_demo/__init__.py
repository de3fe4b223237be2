"""DeepFlash in a browser: a Gradio page over the core pipeline or a running DeepFlash server.

``deepflash web`` builds the page (:func:`deepflash_web.app.build_app`) and serves it
(:func:`deepflash_web.app.launch_app`); importing this package does not import Gradio or torch.
"""
