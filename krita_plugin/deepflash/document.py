"""Reading the active layer of a Krita document and adding the result above it.

Only Krita's document API is used here (no Qt), so unit tests drive it with small fakes.
Everything runs on Krita's UI thread; only the request itself goes to a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .pixels import KritaLayout, UnsupportedLayoutError, krita_layout, krita_to_protocol, protocol_to_krita

LAYER_NAME = "Studio light (DeepFlash)"
MASK_NAME = "Selection (DeepFlash)"
_IMAGE_LAYERS = {"paintlayer", "grouplayer", "filelayer", "clonelayer", "vectorlayer", "filllayer", "filterlayer"}


class DocumentError(Exception):
    """The document or layer cannot be processed (the text is shown to the user)."""


@dataclass
class LayerPixels:
    """The active layer's pixels, already in the protocol's R,G,B,A layout."""

    document: Any
    node: Any
    layout: KritaLayout
    width: int
    height: int
    pixels: bytes


def read_active_layer(document: Any) -> LayerPixels:
    """The active layer of ``document`` over the whole canvas.

    Raises:
        DocumentError: no document, no layer, a mask is active, or the colour model is not RGBA.
    """
    if document is None:
        raise DocumentError("Open an image first.")
    node = document.activeNode()
    if node is None:
        # No view (scripted or headless Krita) has no active node; a single layer is unambiguous.
        layers = [top for top in document.topLevelNodes() if top.type() in _IMAGE_LAYERS]
        node = layers[0] if len(layers) == 1 else None
    if node is None or node.type() not in _IMAGE_LAYERS:
        raise DocumentError("Select a layer (not a mask) to correct.")
    try:
        layout = krita_layout(document.colorModel(), document.colorDepth())
    except UnsupportedLayoutError as error:
        raise DocumentError(str(error)) from None
    width, height = document.width(), document.height()
    # A paint layer's own pixels; other layers (groups, vectors, files) only have a rendered projection.
    read = node.pixelData if node.type() == "paintlayer" else node.projectionPixelData
    data = bytes(read(0, 0, width, height))
    if len(data) != width * height * layout.pixel_bytes:
        raise DocumentError(f"Krita returned {len(data)} bytes for a {width}×{height} {layout.depth} layer.")
    return LayerPixels(document, node, layout, width, height, krita_to_protocol(data, layout))


def add_result_layer(source: LayerPixels, pixels: bytes) -> Any:
    """Add ``pixels`` (protocol layout) as a new paint layer right above the source layer.

    The pixels are written before the layer joins the document, so adding it is the one undo
    step. A selection becomes a transparency mask on the new layer: the user sees and can edit
    what it kept, and the layer itself holds the server's result unchanged.
    """
    document = source.document
    layer = document.createNode(LAYER_NAME, "paintlayer")
    if layer.setPixelData(protocol_to_krita(pixels, source.layout), 0, 0, source.width, source.height) is False:
        raise DocumentError("Krita refused the new layer's pixels.")
    parent = source.node.parentNode() or document.rootNode()
    above = source.node if source.node.parentNode() is not None else None
    parent.addChildNode(layer, above)
    selection = document.selection()
    if selection is not None:
        mask = document.createTransparencyMask(MASK_NAME)
        mask.setSelection(selection)
        layer.addChildNode(mask, None)
    document.refreshProjection()
    return layer
