"""The ccs-hil pytest plugin (registered through the `pytest11` entry point): `--rig`, fixtures, markers."""
