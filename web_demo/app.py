"""The DeepFlash Gradio page: upload or webcam, strength, faces-only or whole image, before/after slider,
the detected faces, and the full-resolution result as a download.

The button's event is also the page's API (``/correct``), so ``gradio_client`` can drive it; see
docs/WEB.md. Its image input is taken unprocessed (``preprocess=False``): Gradio's own decoding would
drop 16-bit depth and colour profiles, skip EXIF rotation for file paths, and fail on a damaged file
with a message of its own. :mod:`deepflash_core.imageio` reads the uploaded file instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gradio as gr

from deepflash_client.errors import DeepFlashError, InvalidOptionError
from deepflash_client.options import Options
from . import layout
from .layout import DEFAULTS, MODES
from .looks import REFERENCE, ReferenceLooks, look_sweep
from .photo_files import OpenedFile, open_file, original_of
from .service import CorrectionService, upload_path

log = logging.getLogger(__name__)

API_NAME = "correct"
SWEEP_API_NAME = "look_sweep"
CONCURRENCY_ID = "deepflash"

CSS = """
#summary p, #credits p { margin: 0.2em 0; }
#credits { font-size: 0.8em; opacity: 0.8; }
#before-after .slider-wrap { position: relative; }
#before-after .slider-wrap:has(img)::before, #before-after .slider-wrap:has(img)::after {
    position: absolute; top: 2.6em; z-index: 10; padding: 0.1em 0.6em; border-radius: 0.4em;
    background: rgba(0, 0, 0, 0.6); color: #fff; font-size: 0.9em; pointer-events: none;
}
#before-after .slider-wrap:has(img)::before { content: "Before"; left: 0.5em; }
#before-after .slider-wrap:has(img)::after { content: "After"; right: 0.5em; }
:is(#before-after, #faces, #download, #summary, #matte) [data-testid="status-tracker"]:has(span.error) {
    display: none !important;
}
"""
"""Page styles: the slider's halves are labelled here because gr.ImageSlider has no labels of its own, and
a failed correction marks no output pane (Gradio would put an "Error" badge on each; the toast says why)."""

HEAD = """<script>
// Gradio's toast heads every error with the word "Error"; make its one-line reason the heading instead.
new MutationObserver(() => {
    for (const toast of document.querySelectorAll('[data-testid="toast-body"].error:not(.reason-titled)')) {
        const title = toast.querySelector('.toast-title');
        const reason = toast.querySelector('[data-testid="toast-text"]');
        if (!title || !reason || !reason.textContent.trim()) continue;
        // An image box takes only what the browser shows (no HEIC): say where such a file opens instead.
        title.textContent = reason.textContent.trim().replace(/^Invalid file types?: (.+)\\. Only image\\/\\* allowed\\.$/,
            '$1: this box takes only what the browser can show; open the file with the button under it.');
        toast.classList.add('reason-titled');
        toast.querySelector('.toast-messages')?.style.setProperty('display', 'none');
    }
}).observe(document.documentElement, {childList: true, subtree: true});
</script>"""


def build_app(service: CorrectionService, concurrency: int = 1, queue_size: int = 16,
              examples: Sequence[Path] = ()) -> gr.Blocks:
    """The page, with its queue set up.

    Args:
        service: does the work for every request.
        concurrency: how many photos are corrected at the same time (the rest wait in the queue).
        queue_size: how many requests may wait before new ones are turned away.
        examples: photos offered as examples (the first :data:`~deepflash_web.layout.MAX_EXAMPLES`);
            :func:`launch_app` must be allowed to serve their folders.
    """
    references = ReferenceLooks(service)
    with gr.Blocks(title="DeepFlash", analytics_enabled=False, delete_cache=(900, 3600)) as demo:
        gr.Markdown(layout.INTRO)
        with gr.Row():
            with gr.Column(scale=2):
                form = layout.form(examples)
            with gr.Column(scale=3):
                panes = layout.result_panes()
        _wire(form, panes, _correct_event(service, references), _sweep_event(service, references), concurrency)
        _wire_file_buttons(form, service)
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    return demo


def _correct_event(service: CorrectionService, references: ReferenceLooks) -> Callable[..., Any]:
    """The ``/correct`` API: its parameters' names and defaults are the API's (older three-value calls work).

    The files last opened through the file buttons are session state, not API parameters: while a box shows
    the preview of one, the correction reads that original file.
    """

    def correct(
        photo: dict[str, Any] | None, strength: float, mode: str, background: str = DEFAULTS.background,
        red_eye: bool = DEFAULTS.red_eye, show_matte: bool = DEFAULTS.with_matte, look: str = DEFAULTS.look,
        reference: dict[str, Any] | None = None, opened_photo: OpenedFile | None = None,
        opened_reference: OpenedFile | None = None, progress: gr.Progress = gr.Progress()
    ) -> tuple[tuple[str, str], str, str, str, str | None]:
        with _one_line_errors():
            upload, name = upload_path(original_of(photo, opened_photo))
            reference = original_of(reference, opened_reference)
            options = _options(strength, mode, background, red_eye, show_matte, references.requested(look, reference))
            result = service.run(upload, options, name=name, progress=lambda fraction, step: progress(fraction, desc=step))
        matte = str(result.matte) if result.matte is not None else None
        return (str(result.before), str(result.after)), str(result.faces), str(result.download), result.summary, matte

    return correct


def _sweep_event(service: CorrectionService, references: ReferenceLooks) -> Callable[..., Any]:
    """The ``/look_sweep`` API: the photo, small, under each look."""

    def sweep(
        photo: dict[str, Any] | None, strength: float, mode: str, background: str = DEFAULTS.background,
        red_eye: bool = DEFAULTS.red_eye, reference: dict[str, Any] | None = None,
        opened_photo: OpenedFile | None = None, opened_reference: OpenedFile | None = None,
    ) -> list[tuple[str, str]]:
        with _one_line_errors():
            upload, name = upload_path(original_of(photo, opened_photo))
            reference = original_of(reference, opened_reference)
            options = _options(strength, mode, background, red_eye, False)
            look = references.look(reference) if reference else None
            return look_sweep(service, upload, Path(name or upload.name).name, options, look)

    return sweep


def _wire(form: layout.Form, panes: layout.ResultPanes, correct: Callable[..., Any], sweep: Callable[..., Any],
          concurrency: int) -> None:
    """The page's events: what clears or shows which pane, and the two buttons (the page's API)."""
    # A new photo clears the last result, so nobody downloads the previous person's correction.
    form.photo.change(lambda: (None, None, None, "", None), inputs=None, outputs=panes.correction, queue=False,
                      show_progress="hidden", api_visibility="private")
    form.show_matte.change(lambda shown: gr.update(visible=shown), inputs=form.show_matte, outputs=panes.matte,
                           queue=False, show_progress="hidden", api_visibility="private")
    form.photo.change(lambda: None, inputs=None, outputs=panes.looks, queue=False, show_progress="hidden",
                      api_visibility="private")
    # A reference uploaded is the look asked for, in view on the menu (never used behind a preset's name).
    form.reference.upload(lambda: REFERENCE, inputs=None, outputs=form.look, queue=False, show_progress="hidden",
                          api_visibility="private")
    form.correct.click(
        correct,
        inputs=[form.photo, form.strength, form.mode, form.background, form.red_eye, form.show_matte, form.look,
                form.reference, form.opened_photo, form.opened_reference],
        outputs=panes.correction,
        api_name=API_NAME,
        preprocess=False,
        concurrency_limit=concurrency,
        concurrency_id=CONCURRENCY_ID,
    )
    form.sweep.click(
        sweep,
        inputs=[form.photo, form.strength, form.mode, form.background, form.red_eye, form.reference,
                form.opened_photo, form.opened_reference],
        outputs=panes.looks,
        api_name=SWEEP_API_NAME,
        preprocess=False,
        concurrency_limit=concurrency,
        concurrency_id=CONCURRENCY_ID,
    )


def _wire_file_buttons(form: layout.Form, service: CorrectionService) -> None:
    """Each file button puts an upright preview of its file in the box above it (which clears the last result, as
    any new photo does) and keeps the file for the next correction; an opened reference is the look asked for."""

    def opened(upload: dict[str, Any] | None) -> tuple[str, OpenedFile]:
        with _one_line_errors():
            file = open_file(service, upload)
        return str(file.preview), file

    form.photo_file.upload(opened, inputs=form.photo_file, outputs=[form.photo, form.opened_photo],
                           preprocess=False, api_visibility="private")
    form.reference_file.upload(lambda upload: (*opened(upload), REFERENCE), inputs=form.reference_file,
                               outputs=[form.reference, form.opened_reference, form.look], preprocess=False,
                               api_visibility="private")


def launch_app(
    demo: gr.Blocks,
    host: str = "127.0.0.1",
    port: int | None = None,
    max_upload_mb: int = 100,
    block: bool = True,
    quiet: bool = False,
    allowed_paths: Sequence[Path] = (),
) -> str:
    """Serve the page; returns its local URL (at once when ``block`` is False).

    Args:
        port: None picks the first free port from 7860.
        max_upload_mb: larger uploads are refused by Gradio before they reach DeepFlash.
        block: keep serving until interrupted.
        allowed_paths: folders the page may serve files from (those of the example photos).
    """
    _, url, _ = demo.launch(
        server_name=host,
        server_port=port,
        max_file_size=f"{max_upload_mb}mb",
        prevent_thread_lock=not block,
        show_error=False,  # only gr.Error messages reach the page, never an exception's text
        quiet=quiet,
        footer_links=["api"],
        ssr_mode=False,
        mcp_server=False,
        allowed_paths=[str(folder) for folder in allowed_paths],
        css=CSS,
        head=HEAD,
    )
    return url


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """A DeepFlash error as the page's one line; anything else logged and said in one line too."""
    try:
        yield
    except DeepFlashError as error:
        raise gr.Error(str(error), title="Cannot correct this photo", print_exception=False) from None
    except Exception as error:  # a bug, not the user's doing: log it, show one line
        log.exception("correction failed")
        raise gr.Error(
            f"Something went wrong inside DeepFlash ({type(error).__name__}); the details are in the server log.",
            print_exception=False,
        ) from None


def _options(strength: Any, mode: Any, background: Any = DEFAULTS.background, red_eye: Any = DEFAULTS.red_eye,
             show_matte: Any = DEFAULTS.with_matte, look: Any = DEFAULTS.look) -> Options:
    """The page's form values as :class:`Options` (which checks every value: range, NaN, type)."""
    values = [value for _, value in MODES]
    if mode not in values:
        raise InvalidOptionError(f"mode must be one of {', '.join(values)}, got {mode!r}.")
    # The value goes to Options as it came, so the page refuses what the protocol refuses (text, true).
    return Options(strength=strength, whole_image=mode == "whole", background=background, red_eye=red_eye,
                   with_matte=show_matte, look=look)
