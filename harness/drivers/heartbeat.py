"""A heartbeat thread that keeps an instrument's watchdog fed while this process lives.

The watchdog sits in the instrument (the CP board's `WDOG`, a supply's output watchdog): when the heartbeats stop
— the process was killed, crashed or lost the USB/LAN link — the instrument switches its output off by itself.
The heartbeat runs in a thread so a test that holds a state for a while without talking to the instrument does
not trip it; a hung main thread is pytest-timeout's job, not the watchdog's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Heartbeat:
    def __init__(self, interval: float, beat: Callable[[], None], label: str) -> None:
        self.interval, self.beat, self.label = interval, beat, label
        self.error: str | None = None  # the last failed beat (the instrument will trip: that is the point)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {label}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - reported through `error`, the watchdog does the rest
                self.error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
