"""`[power] driver = "none"`: no power hardware at the bench; our EVSE runs its simulated power stage.

The same as leaving `[power]` out. Building it skips a test that asks for real power (`needs power-stage`), and
the timeline's meta record says `power_stage: "simulated"`, so a report never passes a model's voltage off as a
measurement.
"""

from __future__ import annotations

from typing import Any

from harness.drivers import ResourceUnavailable, register


@register("power", "none", simulated=True)
def build(options: dict[str, Any], bench: Any) -> Any:
    """No power stage: our EVSE's simulated one is used."""
    raise ResourceUnavailable("power-stage", f"rig {bench.rig.name} has no power stage (power.driver = \"none\"): "
                              "our EVSE uses its simulated one")
