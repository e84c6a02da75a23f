"""Spec timers as named values, so every bounded wait in the project says which timer it stands for.

Each standard's module declares its timers with the names the standard uses (`TT_match_sequence`,
`V2G_EVCC_Msg_Timeout_CurrentDemandReq`, ...). The harness never waits without one: `runner.run(until, SpecTimer)`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpecTimer:
    name: str
    seconds: float
    source: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.seconds:g} s)"

    def scaled(self, factor: float) -> SpecTimer:
        """A multiple of this timer, e.g. the whole sequence of 3 retries; the name keeps the origin."""
        return SpecTimer(f"{factor:g}×{self.name}", self.seconds * factor, self.source)
