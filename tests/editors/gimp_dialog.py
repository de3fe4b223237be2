"""Runs inside the GUI gimp-3.0 (python-fu-eval batch): corrects the portrait, then opens the dialog again.

The first run uses the dialog's values without showing it (as Filters → Repeat does), so the new layer is in
the layers panel and the status bar says how long it took; the second shows the dialog over that window.
The harness takes the screenshot while the dialog is open and then stops GIMP.
"""

import json
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
config.set_property("image", image)
config.set_core_object_array("drawables", image.get_layers())
config.set_property("run-mode", Gimp.RunMode.WITH_LAST_VALS)
status = procedure.run(config).index(0)
layers = [layer.get_name() for layer in image.get_layers()]
(WORK / "gimp_first_run.json").write_text(json.dumps({"status": status.value_name, "layers": layers}))
Gimp.displays_flush()
config.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
config.set_core_object_array("drawables", [image.get_layers()[-1]])  # the photo, as a user would pick it
procedure.run(config)
