"""ccs-hil protocol stack: sans-IO parsers, serialisers and state machines (no sockets, threads, clocks)."""
