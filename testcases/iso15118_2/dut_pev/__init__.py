"""ISO 15118-2, car under test: our EVSE is the tester."""
