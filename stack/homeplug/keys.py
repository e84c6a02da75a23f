"""Network keys: a random NMK per session and the NID derived from it as HomePlug AV prescribes.

NID = first 7 bytes of SHA-256 applied five times to the NMK (hash once, then re-hash the digest 4 times, no salt),
with the last byte shifted right by 4 and the 2-bit security level put into bits 4–5 — as open-plc-utils
`key/HPAVKeyNID.c` computes it and pyslac `utils.generate_nid` copies it (level 0). Checked against the real
Compleo charger's CM_SLAC_MATCH.CNF in the shared captures (tests/homeplug/test_keys.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from hashlib import sha256

NMK_LEN = 16
NID_LEN = 7
SECURITY_LEVEL_SIMPLE_CONNECT = 0  # "SC": what SLAC uses
SECURITY_LEVEL_HIGH_SECURITY = 1


def derive_nid(nmk: bytes, level: int = SECURITY_LEVEL_SIMPLE_CONNECT) -> bytes:
    if len(nmk) != NMK_LEN:
        raise ValueError(f"an NMK has {NMK_LEN} bytes, got {len(nmk)}")
    if not 0 <= level <= 3:
        raise ValueError(f"security level is 2 bits, got {level}")
    digest = sha256(nmk).digest()
    for _ in range(4):
        digest = sha256(digest).digest()
    return digest[: NID_LEN - 1] + bytes([(digest[NID_LEN - 1] >> 4) | (level << 4)])


def new_network_key(rng: Callable[[int], bytes] = os.urandom) -> tuple[bytes, bytes]:
    """(NMK, NID) for a new logical network; `rng` is injectable so tests are deterministic."""
    nmk = rng(NMK_LEN)
    return nmk, derive_nid(nmk)
