"""Treatment protocols: what a clinician decides at each scheduled dose, and when a course
follows (give, hold, stop the cycle, discontinue; retreat on the measured response)."""

from il2sim.protocol.decider import ProtocolDecider, Scans
from il2sim.protocol.protocol import (
    RETREATMENT,
    Drug,
    Protocol,
    label_protocol,
    no_drug_protocol,
    regimen_protocol,
)
from il2sim.protocol.rules import LABEL_HOLDS, Condition, HoldRules, ProtocolError

__all__ = ["LABEL_HOLDS", "RETREATMENT", "Condition", "Drug", "HoldRules", "Protocol",
           "ProtocolDecider", "ProtocolError", "Scans", "label_protocol", "no_drug_protocol",
           "regimen_protocol"]
