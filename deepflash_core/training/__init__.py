"""Training data, the training loop and the evaluation protocol of DeepFlash.

Modules: ``split`` (by-person split of the portrait folder), ``landmarks`` (face
boxes and 68 landmarks cached as JSON), ``dataset`` (synthetic flash/studio pairs
with the paper's augmentation), ``real_pairs`` (aligned folders of real pairs),
``config`` (run settings, the portrait folder), ``data`` (split files, stores, epoch batches),
``checkpoint`` (checkpoints, export, log), ``loop`` (loss and the training loop) and ``evaluate`` (SSIM, PSNR, accuracy
next to the identity baseline).
"""
