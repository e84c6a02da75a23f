"""ISO 15118-2, charger under test: our PEV is the tester."""
