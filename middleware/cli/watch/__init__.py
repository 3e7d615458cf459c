"""``dpi-watch``'s subcommands, one file each (see :func:`edgeward.cli.command_group`)."""
