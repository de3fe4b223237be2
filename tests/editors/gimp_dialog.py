"""Runs inside the GUI gimp-3.0 (python-fu-eval batch): opens the portrait and the DeepFlash dialog.

The harness takes the screenshot of the dialog window and then stops GIMP.
"""

import os
from pathlib import Path

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402

WORK = Path(os.environ.get("DEEPFLASH_EDITOR_WORK", "/tmp/deepflash-editors"))
image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(str(WORK / "portrait8.png")))
Gimp.Display.new(image)
Gimp.displays_flush()
procedure = Gimp.get_pdb().lookup_procedure("python-fu-deepflash")
config = procedure.create_config()
config.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
config.set_property("image", image)
config.set_core_object_array("drawables", image.get_layers())
procedure.run(config)
