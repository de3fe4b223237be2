#!/usr/bin/env python3
"""DeepFlash for GIMP 3: Filters → Enhance → "Flash to Studio (DeepFlash)…".

GIMP runs this file as its own process. It registers one image procedure whose dialog is
generated from its arguments (values remembered by GIMP), and hands the work to
``gimp_filter.apply_flash``. The DeepFlash client modules sit in ``vendor/`` beside this file,
put there by ``deepflash install gimp`` together with ``deepflash_install.json`` (server address,
the DeepFlash environment's Python and server command).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Installed: the client modules are in vendor/ beside this file. In the source tree the repository
# root holds deepflash_core and deepflash_editor.
_VENDOR = HERE / "vendor"
for _folder in [_VENDOR] if _VENDOR.is_dir() else [HERE.parent.parent]:
    if str(_folder) not in sys.path:
        sys.path.insert(1, str(_folder))

import gi  # noqa: E402  (the path above must be set first)

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
gi.require_version("Gtk", "3.0")
from gi.repository import Gegl, Gimp, GimpUi, GLib, GObject, Gtk  # noqa: E402

from deepflash_client.options import BACKGROUNDS, STRENGTH_RANGE, Options  # noqa: E402
from deepflash_editor import messages  # noqa: E402
from deepflash_editor.connection import can_start, client_factory  # noqa: E402
from deepflash_editor.job import CallerThread, Context, Outcome  # noqa: E402
from deepflash_editor.logfile import open_log  # noqa: E402
from deepflash_editor.looks import look_menu  # noqa: E402
from deepflash_editor.settings import DEFAULT_ADDRESS, install_record  # noqa: E402
from gimp_filter import REFERENCE_LABEL, Params, WHOLE_IMAGE_HINT, apply_flash, may_start_server  # noqa: E402

PROCEDURE = "python-fu-deepflash"
MODE_FACES, MODE_WHOLE = "faces", "whole"
CHOICES = ("mode", "look", "background")  # shown as labelled combos: GIMP's radio frame has no mnemonic it can find
BACKGROUND_LABELS = {"keep": ("Keep", "Leave everything outside the person as it is"),
                     "lift": ("Lift", "Brighten the backdrop smoothly, as a studio light would")}


def _record() -> tuple[dict, list[str]]:
    record = install_record(HERE)
    problems = record.load()
    return dict(record.values), problems


def _ask_start_server(address: str) -> bool:
    dialog = Gtk.MessageDialog(message_type=Gtk.MessageType.QUESTION, buttons=Gtk.ButtonsType.YES_NO,
                               text=messages.ask_start_server(address))
    dialog.set_title("DeepFlash")
    try:
        return dialog.run() == Gtk.ResponseType.YES
    finally:
        dialog.destroy()


def run(procedure: Gimp.Procedure, run_mode: Gimp.RunMode, image: Gimp.Image, drawables: list,
        config: Gimp.ProcedureConfig, data: object) -> Gimp.ValueArray:
    """The procedure's run function: dialog (interactive only), then the filter."""
    log, log_path = open_log("gimp")
    record, problems = _record()
    for problem in problems:
        log.warning("install record: %s", problem)
    interactive = run_mode == Gimp.RunMode.INTERACTIVE
    if interactive:
        GimpUi.init(PROCEDURE)
        dialog = GimpUi.ProcedureDialog.new(procedure, config, "Flash to Studio (DeepFlash)")
        for choice in CHOICES:
            dialog.get_widget(choice, Gtk.ComboBox)
        dialog.fill(None)
        accepted = dialog.run()
        dialog.destroy()
        if not accepted:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())

    params = Params(options=Options(strength=config.get_property("strength"),
                                    whole_image=config.get_property("mode") == MODE_WHOLE,
                                    background=config.get_property("background"),
                                    red_eye=config.get_property("red-eye"),
                                    with_matte=config.get_property("matte-mask"),
                                    look=config.get_property("look")),
                    address=config.get_property("address").strip() or record["address"],
                    start_server=config.get_property("start-server"),
                    reference=config.get_property("reference-layer"))
    caller = CallerThread()  # the start question is asked while the request waits in a worker thread
    may_start = caller.wrap(may_start_server(interactive, params, lambda: _ask_start_server(params.address)))
    context = Context(
        address=params.address,
        connect=client_factory(record["python"], record["serve_command"], may_start, params.start_server),
        can_start=can_start(record["python"], record["serve_command"]),
        log=log, log_path=log_path, whole_image_hint=WHOLE_IMAGE_HINT, caller=caller)
    try:
        outcome = apply_flash(Gimp, Gegl, image, drawables, params, context,
                              interactive=run_mode != Gimp.RunMode.NONINTERACTIVE)
    except Exception as error:  # GIMP must get a message and an error status, never a silent crash
        log.exception("unexpected error in the GIMP plug-in")
        outcome = Outcome(False, "unexpected", messages.unexpected(error, log_path))
    if not outcome.ok:
        log.warning("%s: %s", outcome.code, outcome.message)
        return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(outcome.message))
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


class DeepFlash(Gimp.PlugIn):
    """Registers the procedure with GIMP."""

    def do_set_i18n(self, name: str) -> bool:
        return False

    def do_query_procedures(self) -> list[str]:
        return [PROCEDURE]

    def do_create_procedure(self, name: str) -> Gimp.Procedure:
        record, _ = _record()
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        procedure.set_image_types("RGB*, GRAY*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label("Flash to Studio (DeepFlash)…")
        procedure.add_menu_path("<Image>/Filters/Enhance")
        procedure.set_documentation(
            "Turn a phone-flash portrait into a studio-lit one",
            "Sends the selected layer to the local DeepFlash server and adds the corrected image as a new "
            "layer above it (masked by the selection and, when asked, the person's matte). Works on RGB and "
            "grayscale images of any precision. The options are remembered.",
            name)
        procedure.set_attribution("DeepFlash", "MIT License", "2026")
        procedure.add_double_argument("strength", "S_trength", "How much of the flash correction to apply",
                                      *STRENGTH_RANGE, Options().strength, GObject.ParamFlags.READWRITE)
        mode = Gimp.Choice.new()
        mode.add(MODE_FACES, 0, "Faces only", "Correct the detected faces; the rest stays as it is")
        mode.add(MODE_WHOLE, 1, "Whole image", "Correct the whole layer, with or without a face")
        procedure.add_choice_argument("mode", "_What to correct", "Faces only or the whole image", mode, MODE_FACES,
                                      GObject.ParamFlags.READWRITE)
        look = Gimp.Choice.new()
        menu = look_menu(record["looks"], REFERENCE_LABEL)
        for index, entry in enumerate(menu):
            look.add(entry.name, index, entry.label, entry.description)
        procedure.add_choice_argument("look", "Loo_k", "The light to correct toward: a preset, the photo's own, or "
                                      "the look of a portrait in another open image or layer", look, menu[0].name,
                                      GObject.ParamFlags.READWRITE)
        procedure.add_layer_argument("reference-layer", "Reference la_yer", "With the Look “From another open image "
                                     "or layer”: the portrait whose light and colour to take", True,
                                     GObject.ParamFlags.READWRITE)
        background = Gimp.Choice.new()
        for index, name in enumerate(BACKGROUNDS):
            background.add(name, index, *BACKGROUND_LABELS[name])
        procedure.add_choice_argument("background", "_Background", "Keep or lift the backdrop behind the person",
                                      background, Options().background, GObject.ParamFlags.READWRITE)
        procedure.add_boolean_argument("red-eye", "Fix red _eyes", "Repair red pupils", Options().red_eye,
                                       GObject.ParamFlags.READWRITE)
        procedure.add_boolean_argument("matte-mask", "Add the subject matte as the layer _mask",
                                       "Mask the new layer with the person's matte (and the selection, if any)",
                                       Options().with_matte, GObject.ParamFlags.READWRITE)
        procedure.add_string_argument("address", "Server _address", "ZeroMQ address of the DeepFlash server",
                                      record["address"] or DEFAULT_ADDRESS, GObject.ParamFlags.READWRITE)
        procedure.add_boolean_argument("start-server", "Start the server when _needed",
                                       "Start a local DeepFlash server when none answers", True,
                                       GObject.ParamFlags.READWRITE)
        return procedure


Gimp.main(DeepFlash.__gtype__, sys.argv)
