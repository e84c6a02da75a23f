"""Rigs own time. The stack is told `now`; the clock that says it belongs to the rig.

`VirtualClock` (the `sim` rig): time stands still until the runner advances it to the next deadline or delivery,
so a whole charging session takes milliseconds of CPU and timing assertions are exact and repeatable.
`MonotonicClock` (simnet and hardware rigs): real seconds since the clock was made, from `time.monotonic()`.
Both report `epoch`, the wall-clock time of t = 0, which goes into the timeline's meta record.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    kind: str  # "virtual" | "monotonic" — the record format's clock names
    epoch: float

    def now(self) -> float: ...


class VirtualClock:
    kind = "virtual"

    def __init__(self, start: float = 0.0, epoch: float | None = None) -> None:
        self._now = start
        self.epoch = time.time() if epoch is None else epoch

    def now(self) -> float:
        return self._now

    def advance_to(self, t: float) -> None:
        """Jump forward; never backward (a deadline in the past is served at the current time)."""
        if t > self._now:
            self._now = t

    def advance(self, seconds: float) -> None:
        self.advance_to(self._now + seconds)


class MonotonicClock:
    kind = "monotonic"

    def __init__(self) -> None:
        self._origin = time.monotonic()
        self.epoch = time.time()

    def now(self) -> float:
        return time.monotonic() - self._origin
