"""The subject matte: refinement of the coarse segmentation, and the backdrop lift."""
