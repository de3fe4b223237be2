"""``python -m server [OPTIONS]``: the same as ``deepflash serve [OPTIONS]``."""

from deepflash_core.cli import main

if __name__ == "__main__":
    import sys

    sys.argv[1:1] = ["serve"]
    main()
