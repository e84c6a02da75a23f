"""Composite EVSE and PEV endpoints: the whole stack of one role behind the sans-IO `Endpoint` interface."""

from stack.roles.evse import Evse
from stack.roles.pev import Pev

__all__ = ["Evse", "Pev"]
