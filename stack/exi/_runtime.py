"""Primitives shared by the generated grammar modules.

Bit streams are Python ints. Decoding reads `n` bits as ``r -= n; x = (v >> r) & mask`` where `v` holds the
whole stream and `r` counts the bits not yet consumed; running off the end makes the shift count negative and
Python raises ValueError, which the API turns into ExiDecodeError (with the offset taken from the frame).
Encoding appends with ``a = (a << n) | x`` onto an int that starts as the header byte 0x80, whose top bit is a
sentinel that keeps leading zero bits countable, so no separate bit counter has to be threaded through the
generated functions.
"""

from __future__ import annotations

MAX_UINT_GROUPS = 160  # 1120-bit integers: far beyond any V2G value (X509 serial numbers are <= 160 bit)


class Undeclared(Exception):
    """Internal: the stream holds something the schema-informed fast path cannot represent."""


class Invalid(Exception):
    """Internal: an encoder argument is not acceptable (message says why)."""


# ------------------------------------------------------------------------------------------------ decoding
def und(c: int, n: int) -> None:
    raise Undeclared(
        f"event code {c} is outside the {n} declared production(s): a second-level (undeclared) event such as "
        "xsi:type, xsi:nil or an unexpected element/attribute, which V2G codecs do not use"
    )


def und2() -> None:
    raise Undeclared(
        "second-level (undeclared) event code where a declared event was expected (e.g. empty element, xsi:nil)"
    )


def unsupported(what: str) -> None:
    raise Undeclared(f"{what} is not supported by this codec")


def u(v: int, r: int) -> tuple[int, int]:
    """Unsigned integer (EXI 7.1.6): little-endian 7-bit groups, high bit = more groups follow."""
    r -= 8
    b = (v >> r) & 255
    if b < 128:
        return b, r
    x = b & 127
    s = 7
    while True:
        r -= 8
        b = (v >> r) & 255
        x |= (b & 127) << s
        if b < 128:
            return x, r
        s += 7
        if s > 7 * MAX_UINT_GROUPS:
            raise Undeclared("unsigned integer longer than 1120 bits")


def i(v: int, r: int) -> tuple[int, int]:
    """Integer (EXI 7.1.5): sign bit, then magnitude (negative values store -x - 1)."""
    r -= 1
    if (v >> r) & 1:
        m, r = u(v, r)
        return -m - 1, r
    return u(v, r)


def s(v: int, r: int) -> tuple[str, int]:
    """String (EXI 7.1.10) with valuePartitionCapacity=0: always a literal, length + 2 then code points."""
    n, r = u(v, r)
    if n < 2:
        raise Undeclared("string table hit, but V2G uses valuePartitionCapacity=0 (no value table)")
    n -= 2
    if not n:
        return "", r
    nb = n << 3
    if nb > r:
        raise Undeclared(f"string length {n} exceeds the remaining data")
    r -= nb
    raw = ((v >> r) & ((1 << nb) - 1)).to_bytes(n, "big")
    if raw.isascii():  # every code point < 128 is one 8-bit group
        return raw.decode("ascii"), r
    r += nb
    out = []
    for _ in range(n):
        c, r = u(v, r)
        if c > 0x10FFFF:
            raise Undeclared(f"code point {c:#x} out of range")
        out.append(chr(c))
    return "".join(out), r


def b(v: int, r: int) -> tuple[str, int]:
    """Binary (EXI 7.1.1, hexBinary and base64Binary alike): length, then bytes; returned as lowercase hex."""
    n, r = u(v, r)
    if not n:
        return "", r
    nb = n << 3
    if nb > r:
        raise Undeclared(f"binary length {n} exceeds the remaining data")
    r -= nb
    return "%0*x" % (n << 1, (v >> r) & ((1 << nb) - 1)), r  # noqa: UP031 - fastest form


def _ch(v: int, r: int) -> int:
    r -= 1
    if (v >> r) & 1:
        raise Undeclared("second-level event instead of the element's value (e.g. empty element or xsi:nil)")
    return r


# Second-level productions of a simple-typed element's start state (non-strict, no first-level EE):
# EE, AT(xsi:type), AT(xsi:nil), AT(*), AT(*)[invalid], SE(*), CH[untyped] -> 3-bit codes after the escape bit
_SECOND_LEVEL = ("EE", "xsi:type", "xsi:nil", "AT(*)", "AT(*) with schema-invalid value", "SE(*)",
                 "CH with schema-invalid (untyped) value")


def _empty_or_undeclared(v: int, r: int) -> int:
    """At the escape bit of a string/binary element: an empty element (second-level EE, which is how
    EXIficient writes "" values) returns the position after it; any other undeclared event raises."""
    r -= 4
    code = (v >> r) & 15
    if code == 8:  # escape bit 1, second-level code 0 = EE
        return r
    what = _SECOND_LEVEL[code & 7] if code & 8 else "CH"
    raise Undeclared(f"undeclared (second-level) event {what} in a simple element; not supported")


def _ee(v: int, r: int) -> int:
    r -= 1
    if (v >> r) & 1:
        raise Undeclared("second-level event instead of the element's end")
    return r


def eu(v: int, r: int) -> tuple[int, int]:
    """Simple-typed element holding an unsigned integer: CH code, value, EE code (fast path: one byte)."""
    r -= 10
    x = (v >> r) & 1023
    if x & 0x201 or x & 0x100:  # CH bit set, EE bit set, or a multi-byte integer
        x, r = u(v, _ch(v, r + 10))
        return x, _ee(v, r)
    return x >> 1, r


def ei(v: int, r: int) -> tuple[int, int]:
    r -= 11
    x = (v >> r) & 2047
    if x & 0x601 or x & 0x100:  # CH bit, sign bit, EE bit or a multi-byte magnitude
        x, r = i(v, _ch(v, r + 11))
        return x, _ee(v, r)
    return x >> 1, r


def es(v: int, r: int) -> tuple[str, int]:
    """Simple-typed string element: CH code, literal (length + 2, code points), EE code."""
    r -= 9
    n = (v >> r) & 511
    if n & 0x180:  # CH bit set (empty element?) or a length of 126+ characters
        if n & 0x100:
            return "", _empty_or_undeclared(v, r + 9)
        x, r = s(v, r + 8)
        return x, _ee(v, r)
    if n < 2:
        raise Undeclared("string table hit, but V2G uses valuePartitionCapacity=0 (no value table)")
    n -= 2
    nb = n << 3
    if nb >= r:
        raise Undeclared(f"string length {n} exceeds the remaining data")
    r -= nb + 1
    x = v >> r
    raw = ((x >> 1) & ((1 << nb) - 1)).to_bytes(n, "big")
    if raw.isascii():
        if x & 1:
            _ee(v, r + 1)
        return raw.decode("ascii"), r
    x, r = s(v, r + nb + 9)  # non-ASCII code points: slow path from the length again
    return x, _ee(v, r)


def eb(v: int, r: int) -> tuple[str, int]:
    """Simple-typed binary element (hexBinary/base64Binary): CH code, length, bytes, EE code."""
    r -= 9
    n = (v >> r) & 511
    if n & 0x180:  # CH bit set (empty element?) or 128+ bytes
        if n & 0x100:
            return "", _empty_or_undeclared(v, r + 9)
        x, r = b(v, r + 8)
        return x, _ee(v, r)
    nb = n << 3
    if nb >= r:
        raise Undeclared(f"binary length {n} exceeds the remaining data")
    r -= nb + 1
    x = v >> r
    if x & 1:
        _ee(v, r + 1)
    return ("%0*x" % (n << 1, (x >> 1) & ((1 << nb) - 1)) if n else ""), r  # noqa: UP031 - fastest form


# ------------------------------------------------------------------------------------------------ encoding
def wu(a: int, x: int) -> int:
    if x < 128:
        return (a << 8) | x
    while x >= 128:
        a = (a << 8) | 128 | (x & 127)
        x >>= 7
    return (a << 8) | x


def as_int(x: object, lo: int | None, hi: int | None) -> int:
    if type(x) is not int:
        if isinstance(x, bool) or not isinstance(x, int):
            raise Invalid(f"expected an integer, got {type(x).__name__} {x!r}")
        x = int(x)
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise Invalid(f"{x} out of range {lo}..{hi}")
    return x  # type: ignore[return-value]


def wi(a: int, x: int) -> int:
    if x < 0:
        return wu((a << 1) | 1, -x - 1)
    return wu(a << 1, x)


def ws(a: int, x: object) -> int:
    if x.__class__ is not str:
        if not isinstance(x, str):
            raise Invalid(f"expected a string, got {type(x).__name__} {x!r}")
        x = str(x)
    n = len(x)  # type: ignore[arg-type]
    if x.isascii():  # type: ignore[union-attr]
        a = (a << 8) | (n + 2) if n < 126 else wu(a, n + 2)
        return (a << (n << 3)) | int.from_bytes(x.encode("ascii"), "big")  # type: ignore[union-attr]
    a = wu(a, n + 2)
    for ch in x:  # type: ignore[union-attr]
        a = wu(a, ord(ch))
    return a


def wb(a: int, x: object) -> int:
    if isinstance(x, (bytes, bytearray, memoryview)):
        raw = bytes(x)
    else:
        if not isinstance(x, str):
            raise Invalid(f"expected a hex string, got {type(x).__name__} {x!r}")
        try:
            raw = bytes.fromhex(x)
        except ValueError:
            raise Invalid(f"not a hex string: {x!r}") from None
    n = len(raw)
    a = (a << 8) | n if n < 128 else wu(a, n)
    return (a << (n << 3)) | int.from_bytes(raw, "big")


def cu(a: int, x: object, lo: int | None, hi: int | None) -> int:
    """Simple-typed element with an unsigned integer: CH code, value, EE code."""
    return wu(a << 1, as_int(x, lo, hi)) << 1


def ci(a: int, x: object, lo: int | None, hi: int | None) -> int:
    return wi(a << 1, as_int(x, lo, hi)) << 1


def cs(a: int, x: object) -> int:
    return ws(a << 1, x) << 1


def cb(a: int, x: object) -> int:
    return wb(a << 1, x) << 1


def bad_bool(x: object) -> None:
    raise Invalid(f"expected a bool, got {type(x).__name__} {x!r}")


def missing() -> None:
    raise Invalid("missing required element")


def bad_enum(x: object, values: dict) -> None:
    raise Invalid(f"{x!r} is not one of {', '.join(map(str, values))}")


def as_map(d: object) -> dict:
    from collections.abc import Mapping

    if isinstance(d, Mapping):
        return dict(d)
    raise Invalid(f"expected a mapping (dict) for a complex element, got {type(d).__name__} {d!r:.60}")


def as_list(x: object) -> list:
    if isinstance(x, (list, tuple)):
        return list(x)
    raise Invalid(f"expected a list (the element may occur more than once), got {type(x).__name__} {x!r:.60}")


def extra(d: object, known: frozenset) -> None:
    """Called when a mapping had more keys than were encoded: unknown keys are errors, None values are not."""
    if not isinstance(d, dict):
        raise Invalid(f"expected a mapping, got {type(d).__name__}")
    unknown = [k for k, x in d.items() if k not in known and x is not None]
    if unknown:
        raise Invalid(f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(known))}")


def finish(a: int) -> bytes:
    """Pad to whole bytes. `a` started as the header byte 0x80, whose top bit keeps leading zeros countable (the
    encode wrapper in stack.exi does the same inline, on the hot path)."""
    n = a.bit_length()
    return (a << (-n & 7)).to_bytes(n + 7 >> 3, "big")
