"""Synthetic flash/studio pairs: re-light studio portraits as phone-flash photos.

Simple path (GrabCut matte, decomposition and render in one call)::

    from deepflash_train.renderer import FlashRenderer
    flash, params = FlashRenderer().render(studio, face, np.random.default_rng(seed))

Many renders of one portrait: ``ctx = renderer.prepare(studio, face)`` once, then
``renderer.render_prepared(ctx, rng)``. For augmented crops, compute
``geometry.subject_matte`` once on the whole portrait, warp it with the crop, and pass
it as ``prepare(crop, crop_face, matte=warped)``: GrabCut is the slow part.
"""

from deepflash_train.renderer.geometry import subject_matte
from deepflash_train.renderer.params import FlashParams
from deepflash_train.renderer.renderer import FlashRenderer, RenderContext, RenderInputError

__all__ = ["FlashParams", "FlashRenderer", "RenderContext", "RenderInputError", "subject_matte"]
