"""NID derivation against real chargers and open-plc-utils' vector; PIB checksum, profiles and validation."""

from __future__ import annotations

import pytest
from hp_helpers import COMPLEO, homeplug_frames

from stack.errors import MalformedInput
from stack.homeplug import frames as f
from stack.homeplug import pib
from stack.homeplug.keys import derive_nid, new_network_key


def test_nid_matches_the_real_compleo_charger_for_both_sessions():
    cnfs = [f.parse_frame(b) for _, b in homeplug_frames(COMPLEO) if b[15:17] == b"\x7d\x60"]
    assert len(cnfs) == 2
    for cnf in cnfs:
        var = cnf.body.VariableField
        assert derive_nid(bytes(var.NMK)) == bytes(var.NetworkID)


def test_nid_of_the_homeplug_default_key_and_security_level_bits():
    nmk = bytes.fromhex("b59319d7e8157ba001b018669ccee30d")  # "HomePlugAV0123"
    assert derive_nid(nmk).hex() == "026bcba5354e08"  # pyslac enums QUALCOMM_NID
    assert derive_nid(nmk, level=1)[-1] == 0x08 | 0x10
    assert derive_nid(nmk)[-1] & 0xC0 == 0  # 54-bit NID: top two bits clear
    with pytest.raises(ValueError):
        derive_nid(b"short")


def test_new_key_is_random_and_consistent():
    nmk, nid = new_network_key()
    nmk2, _ = new_network_key()
    assert len(nmk) == 16 and nmk != nmk2 and nid == derive_nid(nmk)


def test_pib_checksum_profiles_and_validation():
    image = pib.factory_image(bytes.fromhex("00b052001001"), b"\x11" * 16)
    pib.validate(image)
    evse = pib.apply(image, pib.PROFILES["evse"])
    pib.validate(evse)
    summary = pib.summary(evse)
    assert (summary["user_hfid"], summary["cco_selection"], summary["slac_role"], summary["atten_limits"]) == \
        ("EVSE", 2, 2, [10240, 102400])
    assert pib.summary(pib.apply(image, pib.PROFILES["pev"]))["slac_role"] == 1
    offsets = [o for o, _, _ in pib.diff(image, evse)]
    assert pib.OFF_CHECKSUM in offsets and pib.OFF_SLAC_ROLE in offsets
    broken = bytearray(evse)
    broken[0x100] ^= 1
    with pytest.raises(MalformedInput, match="checksum32"):
        pib.validate(bytes(broken))
    with pytest.raises(MalformedInput, match="PIBLENGTH"):
        pib.validate(evse + b"\x00" * 4)
