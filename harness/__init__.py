"""ccs-hil harness: transports, drivers, rigs, the pytest plugin and the `ccs-hil` CLI (everything that does I/O)."""

__version__ = "0.1.0"
