"""Make every live instrument safe on every exit path.

Drivers register here when they open and unregister when they close. `safe_all()` calls `safe()` on each (CP
output off / no PWM / vehicle load open, ...), with SIGINT and SIGTERM blocked so a second Ctrl-C cannot cut it
short, and never raises: a failure to make something safe is reported on stderr, loudly, and returned.

Who calls it: the bench on fixture teardown and on test failure, the pytest plugin on Ctrl-C
(`pytest_keyboard_interrupt`) and at session end, the SIGTERM/SIGHUP handler installed here (which then raises
KeyboardInterrupt so pytest shuts down normally and writes what it has), and `atexit` as a last resort.
pytest-timeout's default `signal` method fails the test inside it, so teardown runs; its `thread` method ends the
process with `os._exit` and skips all of this — the plugin warns when it is selected.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import sys
import threading
from typing import Any, Protocol


class Safeable(Protocol):
    def safe(self) -> None: ...


_live: dict[int, tuple[Safeable, str]] = {}
_lock = threading.RLock()
_installed: dict[int, Any] = {}


def register(thing: Safeable, label: str) -> None:
    with _lock:
        _live[id(thing)] = (thing, label)


def unregister(thing: Safeable) -> None:
    with _lock:
        _live.pop(id(thing), None)


def live() -> list[str]:
    with _lock:
        return [label for _, label in _live.values()]


@contextlib.contextmanager
def _signals_blocked():
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    blocked = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def make_safe(thing: Safeable, label: str, reason: str) -> str | None:
    """`thing.safe()`, returning an error text instead of raising."""
    try:
        with _signals_blocked():
            thing.safe()
    except BaseException as exc:  # noqa: BLE001 - making hardware safe must not be interrupted by anything
        message = f"ccs-hil: could not make {label} safe ({reason}): {type(exc).__name__}: {exc}"
        print(message, file=sys.stderr, flush=True)
        return message
    return None


def safe_all(reason: str) -> list[str]:
    """Make every registered instrument safe; return the errors (also printed)."""
    with _lock:
        items = list(_live.values())
    errors = []
    for thing, label in items:
        error = make_safe(thing, label, reason)
        if error:
            errors.append(error)
    return errors


def _on_signal(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    safe_all(f"received {name}")
    raise KeyboardInterrupt(f"{name} received")


def install_signal_handlers(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP)) -> None:
    """Turn SIGTERM/SIGHUP into: make everything safe, then KeyboardInterrupt (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in signals:
        if signum not in _installed:
            _installed[signum] = signal.signal(signum, _on_signal)


def restore_signal_handlers() -> None:
    for signum, handler in list(_installed.items()):
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signum, handler)
        del _installed[signum]


def _at_exit() -> None:
    if _live:
        safe_all("process exit")


atexit.register(_at_exit)

