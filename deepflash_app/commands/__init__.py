"""Subcommands of the ``deepflash`` CLI, one module per area."""
