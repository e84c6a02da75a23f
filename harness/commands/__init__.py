"""`ccs-hil` sub-commands, one module each (see harness.cli.COMMANDS)."""
