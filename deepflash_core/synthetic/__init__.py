"""Synthetic flash/studio pairs: re-light studio portraits as phone-flash photos.

    from deepflash_core.synthetic import FlashRenderer
    flash, params = FlashRenderer().render(studio, face, np.random.default_rng(seed))
"""

from deepflash_core.synthetic.params import FlashParams
from deepflash_core.synthetic.renderer import FlashRenderer, RenderContext, RenderInputError

__all__ = ["FlashParams", "FlashRenderer", "RenderContext", "RenderInputError"]
