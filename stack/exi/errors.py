"""Typed errors of the EXI codec."""

from __future__ import annotations


class ExiError(Exception):
    """Base class of every error the EXI codec raises on purpose."""


class ExiEncodeError(ExiError):
    """A message dict cannot be encoded. `path` names the offending field (dotted, list indices in [])."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class ExiDecodeError(ExiError):
    """Bytes are not a valid EXI stream for the schema.

    `bit_offset` is counted from the first bit of the EXI header (None if unknown), `state` names the grammar
    and state that was being decoded, `path` the element being decoded.
    """

    def __init__(self, reason: str, bit_offset: int | None = None, state: str = "", path: str = "") -> None:
        self.reason = reason
        self.bit_offset = bit_offset
        self.state = state
        self.path = path
        where = []
        if bit_offset is not None:
            where.append(f"at bit {bit_offset} (byte {bit_offset // 8})")
        if path:
            where.append(f"in {path}")
        if state:
            where.append(f"[grammar {state}]")
        super().__init__(" ".join([reason] + where))
