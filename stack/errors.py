"""Error types shared by every layer of the stack.

Following h11, an error says whose fault it is: `RemoteProtocolError` — the peer (often the device under test)
broke the protocol, which is a test finding and carries the requirement ID it violates; `LocalProtocolError` — we
broke it (a bug, or a deliberately injected fault). `MalformedInput` is for bytes that do not parse at all; it
names what was being parsed and where it went wrong.
"""

from __future__ import annotations


class StackError(Exception):
    """Base of every error raised by `stack/`."""


class MalformedInput(StackError, ValueError):
    """Bytes that cannot be parsed as `what`; `where` is a byte offset or field path."""

    def __init__(self, what: str, where: str | int, why: str) -> None:
        self.what, self.where, self.why = what, where, why
        super().__init__(f"malformed {what} at {where}: {why}")


class ProtocolError(StackError):
    """A valid message in an invalid place, or a broken protocol rule."""

    def __init__(self, message: str, requirement: str | None = None) -> None:
        self.requirement = requirement
        super().__init__(f"[{requirement}] {message}" if requirement else message)


class RemoteProtocolError(ProtocolError):
    """The peer violated the protocol (a DUT finding)."""


class LocalProtocolError(ProtocolError):
    """We violated the protocol (our bug or an injected fault)."""
