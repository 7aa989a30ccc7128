"""Doses, schedules and regimens."""

from il2sim.dosing.doses import Bolus, Depot, Dose, DoseError, Infusion, Intratumoral
from il2sim.dosing.presets import PRESETS
from il2sim.dosing.regimen import Administration, Regimen
from il2sim.dosing.schedule import Schedule

__all__ = ["PRESETS", "Administration", "Bolus", "Depot", "Dose", "DoseError", "Infusion",
           "Intratumoral", "Regimen", "Schedule"]
