"""The page's layout: the form on the left (photo, settings, buttons, examples), the result panes on the right.

:func:`deepflash_web.app.build_app` places these blocks and wires their events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from deepflash_client.options import BACKGROUNDS, STRENGTH_RANGE, Options
from .looks import look_choices
from .photo_files import file_types

MODES: list[tuple[str, str]] = [("Faces only", "faces"), ("Whole image", "whole")]
"""Radio choices: (label on the page, value in the API)."""
DEFAULTS = Options()
BACKGROUND_CHOICES: list[tuple[str, str]] = [(value.capitalize(), value) for value in BACKGROUNDS]
"""The :data:`~deepflash_client.options.BACKGROUNDS`, as the page labels them."""
MAX_EXAMPLES = 4
EXAMPLE_LABELS = {
    "flash_portrait_frl_012.jpg": "Phone-flash look, 1350×1350 (FRL London Set, CC BY 4.0)",
    "flash_portrait.jpg": "Phone-flash look (public domain, rendered from the next photo)",
    "congress_A000014.jpg": "The same man, studio original",
}
"""Captions under the examples; any other bundled portrait is a "Studio portrait"."""
EXAMPLE_CREDITS = {
    "flash_portrait_frl_012.jpg": "The 1350×1350 example is a portrait from DeBruine, L., & Jones, B. (2017), *Face "
                                  "Research Lab London Set* (Version 5), figshare, doi:10.6084/m9.figshare.5047666.v5, "
                                  "[CC BY 4.0](https://creativecommons.org/licenses/by/4.0/), re-lit as a flash photo "
                                  "by DeepFlash.",
}
"""Attribution shown under the examples for those whose licence asks for it."""

INTRO = """# DeepFlash
Turn a phone-flash portrait into a studio-lit one. Upload a photo (or take one with the webcam, or open
any photo file, a phone's HEIC included, with the button under the box), press **Correct the flash**, then
drag the slider to compare. The download keeps the upload's
format, size, bit depth and transparency."""


def example_label(path: Path) -> str:
    return EXAMPLE_LABELS.get(path.name, "Studio portrait")


@dataclass(frozen=True)
class Form:
    """The page's inputs and buttons (the left column)."""

    photo: gr.Image
    photo_file: gr.UploadButton
    opened_photo: gr.State
    strength: gr.Slider
    mode: gr.Radio
    background: gr.Radio
    look: gr.Dropdown
    reference: gr.Image
    reference_file: gr.UploadButton
    opened_reference: gr.State
    red_eye: gr.Checkbox
    show_matte: gr.Checkbox
    correct: gr.Button
    sweep: gr.Button


@dataclass(frozen=True)
class ResultPanes:
    """Where a correction and a look sweep are shown (the right column)."""

    before_after: gr.ImageSlider
    faces: gr.Image
    download: gr.File
    summary: gr.Markdown
    looks: gr.Gallery
    matte: gr.Image

    @property
    def correction(self) -> list[Any]:
        """The outputs of a correction, in the order the ``/correct`` API returns them."""
        return [self.before_after, self.faces, self.download, self.summary, self.matte]


def form(examples: Sequence[Path]) -> Form:
    """The photo, the correction's settings, the two buttons, and the examples under them."""
    photo = gr.Image(
        label="Flash photo",
        type="filepath",
        image_mode=None,
        sources=["upload", "webcam", "clipboard"],
        elem_id="photo",
    )
    photo_file, opened_photo = file_button("Open a photo file: HEIC, JPEG, PNG, TIFF, …", "photo-file")
    strength = gr.Slider(
        *STRENGTH_RANGE, value=DEFAULTS.strength, step=0.05, label="Strength",
        info="1 removes the predicted flash look; less keeps some of it.",
    )
    mode = gr.Radio(MODES, value="faces", label="Correct", elem_id="mode",
                    info="Whole image also works when no face is found.")
    background = gr.Radio(BACKGROUND_CHOICES, value=DEFAULTS.background, label="Background",
                          elem_id="background",
                          info="Keep leaves everything outside the person untouched; lift brightens a dark backdrop.")
    look = gr.Dropdown(look_choices(), value=DEFAULTS.look, label="Look", elem_id="look",
                       info="The light to correct toward: a studio preset, the photo's own colour, or "
                            "the reference portrait below.")
    reference = gr.Image(label="Reference portrait (optional): its light and colour become the look",
                         type="filepath", image_mode=None, sources=["upload", "clipboard"],
                         elem_id="reference", height=160)
    reference_file, opened_reference = file_button("Open a reference file (HEIC too)", "reference-file")
    with gr.Row():
        red_eye = gr.Checkbox(value=DEFAULTS.red_eye, label="Fix red eyes", elem_id="red-eye")
        show_matte = gr.Checkbox(value=DEFAULTS.with_matte, label="Show the matte", elem_id="show-matte")
    with gr.Row():
        correct = gr.Button("Correct the flash", variant="primary", elem_id="correct")
        sweep = gr.Button("Preview every look", elem_id="sweep")
    if examples:
        example_portraits(examples[:MAX_EXAMPLES], photo)
    return Form(photo, photo_file, opened_photo, strength, mode, background, look, reference, reference_file,
                opened_reference, red_eye, show_matte, correct, sweep)


def file_button(label: str, elem_id: str) -> tuple[gr.UploadButton, gr.State]:
    """A button opening a file of any format the core reads (the image box above takes only what the browser
    shows, no HEIC), and the session's :class:`~deepflash_web.photo_files.OpenedFile` it last opened."""
    button = gr.UploadButton(label, file_types=file_types(), file_count="single", size="sm", variant="secondary",
                             elem_id=elem_id)
    return button, gr.State(None)


def example_portraits(examples: Sequence[Path], photo: gr.Image) -> None:
    """The example portraits, loaded into ``photo`` when clicked, with the credits their licences ask for."""
    gr.Examples([[str(path)] for path in examples], inputs=[photo], label="Example portraits",
                example_labels=[example_label(path) for path in examples])
    credits = [EXAMPLE_CREDITS[path.name] for path in examples if path.name in EXAMPLE_CREDITS]
    if credits:
        gr.Markdown("\n\n".join(credits), elem_id="credits")


def result_panes() -> ResultPanes:
    """The before/after slider, the faces found, the download and summary, the look sweep and the matte."""
    # Previews offer no download button of their own: the only download is the full-resolution file.
    before_after = gr.ImageSlider(
        label="Before / after", type="filepath", image_mode=None,
        interactive=False, elem_id="before-after", buttons=["fullscreen"],
    )
    with gr.Row():
        faces = gr.Image(label="Faces found", type="filepath", interactive=False, elem_id="faces",
                         buttons=["fullscreen"])
        with gr.Column():
            download = gr.File(label="Full-resolution result", interactive=False, elem_id="download")
            summary = gr.Markdown(label="Summary", elem_id="summary")
    looks = gr.Gallery(label="Look sweep: the photo, small, under each look", columns=4, height=260,
                       elem_id="look-sweep", buttons=["fullscreen"])
    matte = gr.Image(label="Subject matte (white: the person the correction goes through)",
                     type="filepath", interactive=False, elem_id="matte", visible=False, height=360,
                     buttons=["fullscreen"])
    return ResultPanes(before_after, faces, download, summary, looks, matte)
