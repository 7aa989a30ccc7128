"""Tests for il2sim.dosing.presets against the Proleukin label and the trials' regimens."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from il2sim.dosing import PRESETS, Regimen
from il2sim.dosing.presets import (
    continuous_infusion,
    hiv_subcutaneous_cycles,
    intratumoral,
    label_high_dose,
    low_dose_iv,
    subcutaneous,
)
from il2sim.dosing.regimen import EVENT_COLUMNS
from il2sim.units import Q_

WEEK_H = 7 * 24.0


def amounts_in(ev: pd.DataFrame, unit: str) -> np.ndarray:
    pairs = zip(ev["amount"], ev["amount_unit"], strict=True)
    return np.array([Q_(a, u).to(unit).magnitude for a, u in pairs])


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_builds_and_expands(name: str) -> None:
    r = PRESETS[name]()
    assert isinstance(r, Regimen)
    assert r.name
    ev = r.events()
    assert list(ev.columns) == EVENT_COLUMNS
    assert len(ev) >= 1
    t = ev["time_h"].to_numpy()
    assert t[0] >= 0.0
    assert np.all(np.diff(t) > 0)  # sorted, no two doses at once
    assert np.all(ev["amount"].to_numpy() > 0)
    assert r.describe().startswith(r.name)


def test_presets_registry_names() -> None:
    assert set(PRESETS) == {"label_high_dose", "low_dose_iv", "continuous_infusion",
                            "subcutaneous", "hiv_subcutaneous_cycles", "intratumoral"}


def test_label_high_dose_event_table() -> None:
    """Proleukin label: 600,000 IU/kg q8h as 15-min infusions,
    days 1-5 (at most 14 doses) and days 15-19 (at most 14 doses)."""
    ev = label_high_dose().events()
    assert len(ev) == 28
    assert (ev["label"] == "cycle 1").sum() == 14
    assert (ev["label"] == "cycle 2").sum() == 14
    expected = np.concatenate([np.arange(0.0, 105.0, 8.0), 336.0 + np.arange(0.0, 105.0, 8.0)])
    assert expected[13] == 104.0 and expected[14] == 336.0 and expected[-1] == 440.0
    np.testing.assert_array_equal(ev["time_h"].to_numpy(), expected)
    assert ev.loc[ev["label"] == "cycle 1", "time_h"].max() == 104.0
    assert ev.loc[ev["label"] == "cycle 2", "time_h"].min() == 336.0  # day 15, 00:00
    np.testing.assert_array_equal(amounts_in(ev, "IU/kg"), 600000.0)
    assert set(ev["kind"]) == {"infusion"}
    assert set(ev["route"]) == {"iv"}
    np.testing.assert_array_equal(ev["duration_h"].to_numpy(), 0.25)


def test_label_high_dose_pivotal_720k() -> None:
    ev = label_high_dose(dose="720000 IU/kg").events()
    assert len(ev) == 28
    np.testing.assert_array_equal(amounts_in(ev, "IU/kg"), 720000.0)


def test_low_dose_iv_defaults() -> None:
    ev = low_dose_iv().events()
    np.testing.assert_array_equal(amounts_in(ev, "IU/kg"), 72000.0)
    assert set(ev["kind"]) == {"bolus"}
    assert set(ev["route"]) == {"iv"}
    # 5 days q8h = 15 doses, cycles start 14 days apart (5 treatment + 9 rest days), 2 cycles
    cycle = np.arange(15) * 8.0
    np.testing.assert_array_equal(ev["time_h"].to_numpy(),
                                  np.concatenate([cycle, 14 * 24.0 + cycle]))


def test_low_dose_iv_options() -> None:
    ev = low_dose_iv(days=3, cycles=3, rest_days=4).events()
    cycle = np.arange(9) * 8.0
    np.testing.assert_array_equal(ev["time_h"].to_numpy(),
                                  np.concatenate([cycle + k * 7 * 24.0 for k in range(3)]))


def test_continuous_infusion() -> None:
    ev = continuous_infusion().events()
    assert len(ev) == 1
    assert ev["time_h"].iloc[0] == 0.0
    assert ev["kind"].iloc[0] == "infusion"
    assert ev["duration_h"].iloc[0] == 120.0
    # 18 MIU/m**2/day for 5 days = 90 MIU/m**2
    assert amounts_in(ev, "MIU/m**2")[0] == pytest.approx(90.0, rel=1e-14)
    ev3 = continuous_infusion(rate="3 MIU/m**2/day", days=4).events()
    assert ev3["duration_h"].iloc[0] == 96.0
    assert amounts_in(ev3, "MIU/m**2")[0] == pytest.approx(12.0, rel=1e-14)


def test_subcutaneous_defaults() -> None:
    ev = subcutaneous().events()
    assert len(ev) == 20  # 5 days a week for 4 weeks
    expected = [w * WEEK_H + d * 24.0 + 8.0 for w in range(4) for d in range(5)]
    np.testing.assert_array_equal(ev["time_h"].to_numpy(), expected)
    np.testing.assert_array_equal(amounts_in(ev, "MIU"), 9.0)
    assert set(ev["route"]) == {"sc"}


def test_hiv_subcutaneous_cycles() -> None:
    """ESPRIT/SILCAAT (Abrams et al. 2009, N Engl J Med 361:1548): SC twice daily for 5 days
    every 8 weeks."""
    ev = hiv_subcutaneous_cycles().events()
    t = ev["time_h"].to_numpy()
    assert len(t) == 30  # 3 cycles x 10 doses
    per_cycle = t.reshape(3, 10)
    first = np.array([d * 24.0 + h for d in range(5) for h in (8.0, 20.0)])
    for k in range(3):
        np.testing.assert_array_equal(per_cycle[k], first + k * 8 * WEEK_H)
    np.testing.assert_array_equal(np.diff(per_cycle[:, 0]), 8 * WEEK_H)  # 1344 h apart
    np.testing.assert_array_equal(amounts_in(ev, "MIU"), 7.5)
    assert set(ev["route"]) == {"sc"}
    assert len(hiv_subcutaneous_cycles(cycles=5).events()) == 50


def test_intratumoral() -> None:
    ev = intratumoral().events()
    np.testing.assert_array_equal(ev["time_h"].to_numpy(), [0.0, 168.0, 336.0, 504.0])
    np.testing.assert_array_equal(amounts_in(ev, "MIU"), 3.0)
    assert set(ev["route"]) == {"it"}
    ev2 = intratumoral(every="3 day", count=2).events()
    np.testing.assert_array_equal(ev2["time_h"].to_numpy(), [0.0, 72.0])


def test_presets_combine() -> None:
    """IL-2 with intratumoral injections: two routes in one sorted table."""
    r = label_high_dose() + intratumoral()
    ev = r.events()
    assert len(ev) == 32
    assert np.all(np.diff(ev["time_h"].to_numpy()) >= 0)
    assert r.routes == ("it", "iv")
