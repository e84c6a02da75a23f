"""Start-up checks: before the first test of a session, ask every resource of the rig whether the bench is what
the rig file says — once, with a clear message per check.

Each driver may register `startup(options, ctx)` (see `harness.drivers.register`) returning `Check`s:

    [ok   ] plc evse (eth1): interface: 'eth1' up, carrier, MAC 00:11:22:33:44:55
    [ok   ] plc evse (eth1): adaptor: 00:b0:52:00:00:01 QCA7420 firmware MAC-QCA7420-1.4.0.20-00-20171027-CS
    [ABORT] plc evse (eth1): PIB profile: adaptor 00:b0:52:00:00:01: PIB has SLAC role PEV, ...
              fix: sudo ccs-hil modem pib-write --profile evse --iface eth1

What is *missing* (no interface, no privilege, instrument not connected, adaptor silent) skips the tests that
need it, with the same message; what is *wrong* (another instrument answers, the adaptor carries the other role's
profile, a configured level is outside IEC 61851-1 or the rig's `[limits]`) aborts the run before any test,
because running would give wrong results or drive the hardware outside its limits. Outcomes are remembered in
the session's resources, so the tests reuse what the checks opened and never probe twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness import drivers
from harness.drivers import Check, InstrumentError, ResourceUnavailable
from harness.rig import Rig


@dataclass
class StartupContext:
    rig: Rig
    session: Any  # harness.bench.SessionResources


@dataclass
class StartupReport:
    checks: list[Check]

    @property
    def aborts(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and c.action == "abort"]

    @property
    def skips(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and c.action == "skip"]

    def lines(self) -> list[str]:
        return [c.line() for c in self.checks]


def run(rig: Rig, session: Any) -> StartupReport:
    """Every start-up check of every resource of the rig (a check that crashes is reported, never raised)."""
    ctx = StartupContext(rig, session)
    checks: list[Check] = []
    for section in rig.sections.values():
        spec = drivers.lookup(section.kind, section.driver)
        if spec is None or spec.startup is None:
            continue
        name = f"{section.kind} {section.driver}"
        try:
            checks.extend(spec.startup(section.options, ctx))
        except ResourceUnavailable as exc:
            checks.append(Check.missing(name, exc.need, exc.why))
        except InstrumentError as exc:
            checks.append(Check.wrong(name, str(exc), getattr(exc, "fix", "")))
        except Exception as exc:  # noqa: BLE001 - a broken check must say so, not hide the others
            checks.append(Check.wrong(name, f"the check itself failed: {type(exc).__name__}: {exc}"))
    return StartupReport(checks)


def opened(name: str, need: str, open_it: Any, fix: str = "") -> tuple[Any, list[Check]]:
    """Open something through the session for a check: (thing, []) or (None, [the failed check]); `fix` is what
    to do when it answers wrongly (unless the error says it)."""
    try:
        return open_it(), []
    except ResourceUnavailable as exc:
        return None, [Check.missing(name, need or exc.need, exc.why)]
    except InstrumentError as exc:
        return None, [Check.wrong(name, str(exc), getattr(exc, "fix", "") or fix)]
