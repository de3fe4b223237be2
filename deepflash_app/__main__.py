"""``python -m deepflash_app COMMAND [OPTIONS]``: the same as ``deepflash COMMAND [OPTIONS]``."""

from deepflash_app.cli import main

if __name__ == "__main__":
    main()
