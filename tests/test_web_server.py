"""The web page backed by a running DeepFlash server (``deepflash web --server ADDR``).

A real server process on loopback with the tiny random model; the page's download must be the same
pixels the in-process pipeline makes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the web extra is not installed")
pytest.importorskip("zmq", reason="pyzmq is not installed")

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402
from server_helpers import running_server, server_environment  # noqa: E402  (shared server helpers)

from deepflash_client.options import Options  # noqa: E402
from deepflash_core.corrector import ServerCorrector  # noqa: E402
from deepflash_core.imageio import load_photo  # noqa: E402
from deepflash_core.pipeline import Pipeline  # noqa: E402
from test_web import page_client  # noqa: E402

# Gradio's queue calls pandas APIs that pandas 3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")


@pytest.fixture(scope="module")
def server_page(tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory):
    with server_environment(tmp_path_factory.mktemp("server-state")), running_server(tiny_weights) as (address, _):
        corrector = ServerCorrector(address, timeout_s=60.0)
        with page_client(corrector, tmp_path_factory.mktemp("web-results")) as page:
            yield page


def test_server_backed_page_returns_the_pipelines_pixels(server_page: Client, tiny_weights: Path,
                                                          portrait_path: Path, tmp_path: Path) -> None:
    upload = tmp_path / "portrait.png"
    Image.open(portrait_path).convert("RGBA").save(upload)
    (_, _), _, download, summary, _ = server_page.predict(handle_file(str(upload)), 0.8, "faces", api_name="/correct")

    expected = Pipeline.load(weights=tiny_weights, device="cpu").process(
        load_photo(upload).pixels, Options(strength=0.8)).pixels
    assert np.array_equal(np.asarray(Image.open(download)), expected)
    assert "**1 face**" in summary and "server" in summary


def test_server_no_face_reply_becomes_the_pages_message(server_page: Client, tmp_path: Path) -> None:
    wall = tmp_path / "wall.png"
    Image.fromarray(np.full((96, 128, 3), 90, np.uint8)).save(wall)
    with pytest.raises(AppError, match="Whole image"):
        server_page.predict(handle_file(str(wall)), 1.0, "faces", api_name="/correct")


def test_the_matte_comes_back_from_the_server(server_page: Client, portrait_path: Path) -> None:
    *_, matte = server_page.predict(handle_file(str(portrait_path)), 1.0, "faces", "lift", True, True,
                                    api_name="/correct")
    person = np.asarray(Image.open(matte))
    assert person.shape[:2] == (275, 225) and person[140, 112].min() > 200 and person[5, 5].max() < 50
