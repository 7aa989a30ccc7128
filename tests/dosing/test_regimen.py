"""Tests for il2sim.dosing.regimen: combining, shifting and expanding regimens."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from il2sim.dosing import (
    Administration,
    Bolus,
    Depot,
    DoseError,
    Infusion,
    Intratumoral,
    Regimen,
    Schedule,
)
from il2sim.dosing.regimen import EVENT_COLUMNS
from il2sim.units import Q_


def q8h_bolus() -> Regimen:
    return Regimen.of(Bolus(amount="72000 IU/kg"), Schedule(every="8 h", count=3),
                      label="iv", name="A")


def weekly_it() -> Regimen:
    return Regimen.of(Intratumoral(amount="3 MIU"), Schedule(every="7 day", count=2,
                                                             start="4 h"),
                      label="it", name="B")


def test_events_table() -> None:
    ev = q8h_bolus().events()
    assert list(ev.columns) == EVENT_COLUMNS
    assert ev["dose_id"].tolist() == [0, 1, 2]
    assert ev["time_h"].tolist() == [0.0, 8.0, 16.0]
    assert set(ev["label"]) == {"iv"}
    assert set(ev["kind"]) == {"bolus"}
    assert set(ev["route"]) == {"iv"}
    assert ev["amount"].tolist() == [72000.0] * 3
    assert set(ev["amount_unit"]) == {"international_unit / kilogram"}
    assert ev["duration_h"].tolist() == [0.0] * 3


def test_infusion_events_carry_duration() -> None:
    r = Regimen.of(Infusion(rate="18 MIU/m**2/day", duration="5 day"), Schedule(at=["0 h"]))
    ev = r.events()
    assert ev["kind"].tolist() == ["infusion"]
    assert ev["duration_h"].tolist() == [120.0]
    amount = Q_(ev["amount"].iloc[0], ev["amount_unit"].iloc[0])
    assert amount.to("MIU/m**2").magnitude == pytest.approx(90.0, rel=1e-14)


def test_add_combines_and_sorts() -> None:
    r = q8h_bolus() + weekly_it()
    assert r.name == "A + B"
    assert len(r.administrations) == 2
    ev = r.events()
    assert ev["time_h"].tolist() == [0.0, 4.0, 8.0, 16.0, 172.0]
    assert ev["route"].tolist() == ["iv", "it", "iv", "iv", "it"]
    assert ev["label"].tolist() == ["iv", "it", "iv", "iv", "it"]
    assert ev["dose_id"].tolist() == [0, 1, 2, 3, 4]
    assert r.routes == ("it", "iv")
    # operands unchanged
    assert len(q8h_bolus().events()) == 3


def test_add_keeps_administration_order_for_simultaneous_events() -> None:
    a = Regimen.of(Bolus(amount="1 MIU"), Schedule(at=["0 h", "8 h"]), label="first")
    b = Regimen.of(Depot(amount="2 MIU"), Schedule(at=["0 h"]), label="second")
    ev = (a + b).events()
    assert ev["label"].tolist() == ["first", "second", "first"]
    ev2 = (b + a).events()
    assert ev2["label"].tolist() == ["second", "first", "first"]


def test_add_rejects_non_regimens() -> None:
    with pytest.raises(TypeError):
        q8h_bolus() + 1  # type: ignore[operator]


def test_add_none_is_identity_for_events() -> None:
    r = q8h_bolus() + Regimen.none()
    assert r.events()["time_h"].tolist() == [0.0, 8.0, 16.0]
    assert r.name == "A + untreated"


def test_none_has_no_events() -> None:
    ev = Regimen.none().events()
    assert len(ev) == 0
    assert list(ev.columns) == EVENT_COLUMNS
    assert Regimen.none().routes == ()


def test_shifted_moves_times() -> None:
    r = q8h_bolus() + weekly_it()
    s = r.shifted(24.0)
    ev, ev_s = r.events(), s.events()
    np.testing.assert_array_equal(ev_s["time_h"].to_numpy(), ev["time_h"].to_numpy() + 24.0)
    for col in ("label", "kind", "route", "amount", "amount_unit", "duration_h"):
        assert ev_s[col].tolist() == ev[col].tolist()
    assert s.name == r.name
    # the original is unchanged
    assert r.events()["time_h"].tolist() == [0.0, 4.0, 8.0, 16.0, 172.0]


def test_shifted_by_a_fraction_of_an_hour() -> None:
    s = q8h_bolus().shifted(1 / 3)
    np.testing.assert_allclose(s.events()["time_h"], np.array([0, 8, 16]) + 1 / 3,
                               rtol=0, atol=1e-12)


def test_shifted_infusion_keeps_duration() -> None:
    r = Regimen.of(Infusion(amount="600000 IU/kg", duration="15 min"),
                   Schedule(every="8 h", count=2))
    ev = r.shifted(336.0).events()
    assert ev["time_h"].tolist() == [336.0, 344.0]
    assert ev["duration_h"].tolist() == [0.25, 0.25]


def test_shifted_before_time_zero_is_an_error() -> None:
    with pytest.raises(DoseError, match="must be non-negative"):
        q8h_bolus().shifted(-1.0)


def test_regimen_and_administration_are_immutable() -> None:
    r = q8h_bolus()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.administrations = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.administrations[0].label = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.administrations[0].dose.route = "sc"  # type: ignore[misc]
    assert isinstance(r.administrations, tuple)


def test_administrations_list_is_converted_to_tuple() -> None:
    a = Administration(Bolus(amount="1 IU"), Schedule(at=["0 h"]))
    items = [a]
    r = Regimen(items)  # type: ignore[arg-type]
    items.append(a)
    assert len(r.administrations) == 1
    assert isinstance(r.administrations, tuple)


def test_administration_validation() -> None:
    with pytest.raises(DoseError, match="is not a dose"):
        Administration("1 IU", Schedule(at=["0 h"]))  # type: ignore[arg-type]
    with pytest.raises(DoseError, match="is not a schedule"):
        Administration(Bolus(amount="1 IU"), ["0 h"])  # type: ignore[arg-type]
    with pytest.raises(DoseError, match="is not an Administration"):
        Regimen((Bolus(amount="1 IU"),))  # type: ignore[arg-type]


def test_describe() -> None:
    it = Regimen.of(Intratumoral(amount="5000 IU"), Schedule(every="7 day", count=2,
                                                             start="4 h"), label="it", name="B")
    text = (q8h_bolus() + it).describe()
    assert text.splitlines() == [
        "A + B",
        "  iv: bolus 72000.0 IU/kg (iv) x3 from 0 h to 16 h",
        "  it: intratumoral 5000 IU (it) x2 from 4 h to 172 h",
    ]
