"""A SCPI instrument over pyvisa, with errors that say which instrument, which command and what came back.

- absent instrument (no such VISA resource, no USB backend, host unreachable) → `ResourceUnavailable`
  (the test is skipped, naming the resource);
- no answer within the timeout → `InstrumentTimeout`; an answer that is not what the command returns (a number
  expected, "banana" received) → `InstrumentError`; a non-zero `SYST:ERR?` after a setting → `InstrumentError`
  with the instrument's own error text.

Numbers are always sent with a decimal point ("6.0000"): every SCPI parser takes it, and so does pyvisa-sim's.
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Any

from harness.drivers import InstrumentError, InstrumentTimeout, ResourceUnavailable

_NO_ERROR = re.compile(r"^\s*[+]?0\s*,")


def number(value: float) -> str:
    return f"{value:.4f}"


class ScpiInstrument:
    """One open VISA session; `label` names it in every error (e.g. "cp-generator USB0::...")."""

    def __init__(self, resource: str, library: str = "@py", timeout_ms: int = 2000, need: str = "instrument",
                 label: str | None = None) -> None:
        self.resource, self.library, self.need = resource, library, need
        self.label = label or f"{need} {resource}"
        self.timeout_ms = timeout_ms
        self.idn = ""  # what *IDN? said, once identified
        self.lock = threading.RLock()  # a heartbeat thread may share the session
        self._session: Any = None
        self._manager: Any = None
        self._open()

    def _open(self) -> None:
        import pyvisa

        try:
            self._manager = pyvisa.ResourceManager(self.library)
        except (OSError, ValueError, pyvisa.errors.LibraryError) as exc:
            raise ResourceUnavailable(self.need, f"VISA library {self.library!r} cannot be loaded ({_short(exc)})") from None
        try:
            self._session = self._manager.open_resource(self.resource, read_termination="\n",
                                                        write_termination="\n", timeout=self.timeout_ms)
        except pyvisa.errors.VisaIOError as exc:
            raise ResourceUnavailable(self.need, f"VISA resource {self.resource} not found ({_short(exc)})") from None
        except (OSError, ValueError) as exc:
            # pyvisa-py raises ValueError when a bus backend (PyUSB, ...) is missing and OSError for network faults
            raise ResourceUnavailable(self.need, f"VISA resource {self.resource} not found ({_short(exc)})") from None

    def write(self, command: str) -> None:
        import pyvisa

        try:
            with self.lock:
                self._session.write(command)
        except (pyvisa.errors.VisaIOError, pyvisa.errors.InvalidSession, OSError) as exc:
            raise InstrumentError(f"{self.label}: writing {command!r} failed ({_short(exc)})") from None

    def query(self, command: str) -> str:
        import pyvisa

        try:
            with self.lock:
                return str(self._session.query(command)).strip()
        except pyvisa.errors.VisaIOError as exc:
            if exc.error_code == pyvisa.constants.StatusCode.error_timeout:
                raise InstrumentTimeout(f"{self.label}: no answer to {command!r} within {self.timeout_ms} ms") \
                    from None
            raise InstrumentError(f"{self.label}: query {command!r} failed ({_short(exc)})") from None
        except (pyvisa.errors.InvalidSession, OSError) as exc:
            raise InstrumentError(f"{self.label}: query {command!r} failed ({_short(exc)})") from None

    def query_float(self, command: str) -> float:
        reply = self.query(command)
        try:
            return float(reply)
        except ValueError:
            raise InstrumentError(f"{self.label}: {command!r} answered {reply!r}, expected a number") from None

    def identify(self, pattern: str, expected: str) -> str:
        """`*IDN?`, checked against a regular expression; a wrong instrument is a rig error, not a skip."""
        idn = self.query("*IDN?")
        if not re.search(pattern, idn):
            raise InstrumentError(f"{self.label}: *IDN? answered {idn!r}, expected {expected}")
        return idn

    def check_errors(self, after: str) -> None:
        """Read the error queue; the first error raises, naming the command that caused it."""
        reply = self.query("SYST:ERR?")
        if not _NO_ERROR.match(reply):
            raise InstrumentError(f"{self.label}: error after {after!r}: {reply}")

    def drain_errors(self, limit: int = 20) -> list[str]:
        """Empty the error queue (left-overs of an earlier session); an instrument whose queue never empties is
        broken."""
        drained = []
        for _ in range(limit):
            reply = self.query("SYST:ERR?")
            if _NO_ERROR.match(reply):
                return drained
            drained.append(reply)
        raise InstrumentError(f"{self.label}: the error queue does not empty (keeps reporting {drained[-1]})")

    def clear(self) -> None:
        """Device clear: abort a half-done exchange (used before making the instrument safe)."""
        # under the lock: a clear reads the socket empty, and must not eat the answer a heartbeat waits for
        with self.lock, contextlib.suppress(Exception):  # best effort; the following commands will tell
            self._session.clear()

    def close(self) -> None:
        if self._session is not None:
            try:
                self._session.close()
            finally:
                self._session = None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
