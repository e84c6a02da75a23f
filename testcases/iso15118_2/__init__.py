"""ISO 15118-2 (EIM; AC and DC): the charger under test (dut_evse/) and the car under test (dut_pev/)."""
