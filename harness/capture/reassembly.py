"""TCP stream reassembly for captures: out-of-order segments, retransmissions, split and coalesced data.

A capture shows segments as the sniffer saw them. V2GTP messages can be split across segments or several can
share one; a lost-then-retransmitted segment appears twice; reordering happens on busy links. `TcpFlow` keeps the
next expected sequence number per direction, holds early segments until the gap is filled, and trims any byte
it has already delivered, so the V2GTP parser above sees each direction's byte stream exactly once, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_SEQ_MOD = 1 << 32
# A flow that never fills its gap holds at most this much early data; beyond it the gap is declared lost.
_MAX_PENDING = 1 << 20


def _seq_diff(a: int, b: int) -> int:
    """a - b in sequence space (RFC 1982 style), so wrap-around works."""
    d = (a - b) % _SEQ_MOD
    return d - _SEQ_MOD if d >= _SEQ_MOD // 2 else d


@dataclass
class Delivery:
    """Bytes that became contiguous, with the capture time of the segment that completed them."""

    t: float
    data: bytes
    gap: int = 0  # bytes declared lost before this data (never filled)


@dataclass
class TcpDirection:
    next_seq: int | None = None
    pending: dict[int, tuple[float, bytes]] = field(default_factory=dict)
    retransmitted: int = 0

    def segment(self, t: float, seq: int, payload: bytes, syn: bool = False) -> list[Delivery]:
        if syn:
            self.next_seq = (seq + 1) % _SEQ_MOD
            seq = self.next_seq
            if not payload:
                return []
        if self.next_seq is None:  # capture started mid-stream: take the first segment as the start
            self.next_seq = seq
        if not payload:
            return []
        offset = _seq_diff(seq, self.next_seq)
        if offset < 0:  # (partly) old data: a retransmission
            if -offset >= len(payload):
                self.retransmitted += 1
                return []
            payload, seq = payload[-offset:], self.next_seq
            offset = 0
        if offset > 0:
            held = self.pending.get(seq)
            if held is None or len(held[1]) < len(payload):
                self.pending[seq] = (t, payload)
            if sum(len(p) for _, p in self.pending.values()) > _MAX_PENDING:
                return self._skip_gap()
            return []
        out = [Delivery(t, payload)]
        self.next_seq = (seq + len(payload)) % _SEQ_MOD
        out.extend(self._drain())
        return out

    def _drain(self) -> list[Delivery]:
        out: list[Delivery] = []
        progressed = True
        while progressed and self.pending:
            progressed = False
            for seq in list(self.pending):
                offset = _seq_diff(seq, self.next_seq)  # type: ignore[arg-type]
                t, payload = self.pending[seq]
                if offset > 0:
                    continue
                del self.pending[seq]
                if -offset < len(payload):
                    payload = payload[-offset:]
                    out.append(Delivery(t, payload))
                    self.next_seq = (self.next_seq + len(payload)) % _SEQ_MOD  # type: ignore[operator]
                progressed = True
        return out

    def _skip_gap(self) -> list[Delivery]:
        first = min(self.pending, key=lambda s: _seq_diff(s, self.next_seq))  # type: ignore[arg-type]
        gap = _seq_diff(first, self.next_seq)  # type: ignore[arg-type]
        self.next_seq = first
        out = self._drain()
        if out:
            out[0].gap = gap
        return out

    def flush(self) -> list[Delivery]:
        """End of capture: give out what is held behind a gap that will never be filled."""
        out: list[Delivery] = []
        while self.pending:
            out.extend(self._skip_gap())
        return out
