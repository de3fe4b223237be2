"""Training data, the training loop and the evaluation protocol of DeepFlash, beside the core.

It imports ``deepflash_core`` (the networks, the encoding, the detection); the core never imports it, and
``deepflash process`` never loads it. ``renderer/`` is the virtual flash studio that makes the training pairs;
``data/portraits_split.csv`` the by-person split of the portrait folder.

Modules: ``split`` (by-person split of the portrait folder), ``landmarks`` (face
boxes and 68 landmarks cached as JSON), ``dataset`` (synthetic flash/studio pairs
with the paper's augmentation), ``real_pairs`` (aligned folders of real pairs),
``config`` (run settings, the portrait folder), ``data`` (split files, stores, epoch batches),
``checkpoint`` (checkpoints, export, log), ``loop`` (loss and the training loop) and ``evaluate`` (SSIM, PSNR, accuracy
next to the identity baseline).
"""
