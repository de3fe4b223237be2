"""Reading the active layer of a Krita document and adding the result above it.

Only Krita's document API is used here (no Qt), so unit tests drive it with small fakes.
Everything runs on Krita's UI thread; only the request itself goes to a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .pixels import (KritaLayout, UnsupportedLayoutError, float_to_integer, integer_to_float, krita_layout,
                     krita_to_protocol, protocol_to_krita)

from .transfer import is_linear_profile, linear_to_srgb, srgb_to_linear

LAYER_NAME = "Studio light (DeepFlash)"
MASK_NAME = "Selection (DeepFlash)"
MATTE_MASK_NAME = "Subject matte (DeepFlash)"
_IMAGE_LAYERS = {"paintlayer", "grouplayer", "filelayer", "clonelayer", "vectorlayer", "filllayer", "filterlayer"}


class DocumentError(Exception):
    """The document or layer cannot be processed (the text is shown to the user)."""


@dataclass
class LayerPixels:
    """The active layer's pixels inside its own bounds, already in the protocol's sRGB-encoded R,G,B,A of
    ``dtype`` (the layout's, but ``f32`` for a linear document)."""

    document: Any
    node: Any
    layout: KritaLayout
    x: int
    y: int
    width: int
    height: int
    pixels: bytes
    dtype: str
    linear: bool = False  # a document with a linear profile: encoded for the model, decoded back


def read_active_layer(document: Any) -> LayerPixels:
    """The active layer of ``document`` within the layer's own bounds.

    A moved layer is read where it is, also where it extends past the canvas, and without the
    transparent canvas around it (which would change the result).

    Raises:
        DocumentError: no document, no layer, a mask is active, an empty layer, or the colour model is not RGBA.
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
    return read_layer(document, node)


def read_layer(document: Any, node: Any) -> LayerPixels:
    """The pixels of ``node`` (an image layer of ``document``) within its own bounds, as :func:`read_active_layer`.

    Raises:
        DocumentError: an empty layer, or the colour model is not RGBA.
    """
    try:
        layout = krita_layout(document.colorModel(), document.colorDepth())
    except UnsupportedLayoutError as error:
        raise DocumentError(str(error)) from None
    bounds = node.bounds()
    x, y, width, height = bounds.x(), bounds.y(), bounds.width(), bounds.height()
    if width <= 0 or height <= 0:
        raise DocumentError("The layer is empty.")
    # A paint layer's own pixels; other layers (groups, vectors, files) only have a rendered projection.
    read = node.pixelData if node.type() == "paintlayer" else node.projectionPixelData
    data = bytes(read(x, y, width, height))
    if len(data) != width * height * layout.pixel_bytes:
        raise DocumentError(f"Krita returned {len(data)} bytes for a {width}×{height} {layout.depth} layer.")
    pixels, dtype = krita_to_protocol(data, layout), layout.protocol_dtype
    # The model expects sRGB-encoded values. A linear profile (Krita's default for 16-bit and float documents)
    # is encoded, as floats: re-encoded at 8 or 16 bits the darks would lose levels.
    linear = is_linear_profile(document.colorProfile())
    if linear:
        pixels, dtype = linear_to_srgb(integer_to_float(pixels, dtype)), "f32"
    return LayerPixels(document, node, layout, x, y, width, height, pixels, dtype, linear)


def image_layers(documents: list[Any]) -> list[tuple[Any, Any, str]]:
    """Every image layer of the open ``documents`` (groups' members too), as (document, node, "file — layer"):
    what the docker offers as a look's reference."""
    found = []

    def walk(document: Any, nodes: list[Any], name: str) -> None:
        for node in nodes:
            if node.type() in _IMAGE_LAYERS:
                found.append((document, node, f"{name} — {node.name()}"))
            if node.type() == "grouplayer":
                walk(document, node.childNodes(), name)

    for document in documents:
        # The file's name: a document's name() is its title, empty for most photos.
        path = document.fileName().replace("\\", "/")
        walk(document, document.topLevelNodes(), path.rsplit("/", 1)[-1] or document.name() or "Untitled")
    return found


def new_selection() -> Any:
    """An empty Krita selection (a function, so tests can give their own)."""
    from krita import Selection

    return Selection()


def add_result_layer(source: LayerPixels, pixels: bytes, matte: bytes | None = None) -> Any:
    """Add ``pixels`` (protocol layout) as a new paint layer right above the source layer, at its bounds.

    The pixels (and the mask) are set before the layer joins the document, so adding it is the one
    undo step. A selection becomes a transparency mask on the new layer: the user sees and can edit
    what it kept, and the layer itself holds the server's result unchanged. The subject ``matte``
    (one byte per pixel of the layer's bounds), when given, is that mask instead, intersected with
    the selection if there is one (Krita's intersection: the lesser value).
    """
    document = source.document
    layer = document.createNode(LAYER_NAME, "paintlayer")
    if source.linear:
        pixels = float_to_integer(srgb_to_linear(pixels), source.layout.protocol_dtype)
    data = protocol_to_krita(pixels, source.layout)
    if layer.setPixelData(data, source.x, source.y, source.width, source.height) is False:
        raise DocumentError("Krita refused the new layer's pixels.")
    selection = document.selection()
    if matte is not None:
        matte_selection = new_selection()
        matte_selection.setPixelData(matte, source.x, source.y, source.width, source.height)
        if selection is not None:
            matte_selection.intersect(selection)
        selection, name = matte_selection, MATTE_MASK_NAME
    else:
        name = MASK_NAME
    if selection is not None:
        mask = document.createTransparencyMask(name)
        mask.setSelection(selection)
        layer.addChildNode(mask, None)
    # Last: Krita records each node added to the document as an undo step, so the mask joins the layer
    # first and one undo removes the result with its mask.
    parent = source.node.parentNode() or document.rootNode()
    above = source.node if source.node.parentNode() is not None else None
    parent.addChildNode(layer, above)
    document.refreshProjection()
    return layer
