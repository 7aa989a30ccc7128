"""Tests for il2sim.units: numbers are checked against arithmetic done here, independently."""

from __future__ import annotations

import math
import pickle
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pint
import pytest

from il2sim.units import (
    ALDESLEUKIN_IU_PER_MG,
    ALDESLEUKIN_MOLAR_MASS_G_PER_MOL,
    PHYSIOLOGICAL_BOUNDS,
    Q_,
    UnitError,
    bsa_dubois,
    bsa_mosteller,
    check_physiological,
    iu_per_ml_to_pm,
    parse_dose,
    parse_quantity,
    pm_to_iu_per_ml,
    resolve_amount,
    resolve_rate,
    to_magnitude,
    ureg,
)

REL = 1e-12
# 1 IU = 1.1/18e6 mg (label potency); M = 15300 g/mol.
MG_PER_IU = 1.1 / 18e6
# 1 IU/mL -> mol/mL -> mol/L (x1e3) -> pM (x1e12)
PM_PER_IU_PER_ML = 1.1e-3 / 18e6 / 15300 * 1e3 * 1e12


# --------------------------------------------------------------------------- registry


def test_constants() -> None:
    assert pytest.approx(18e6 / 1.1, rel=REL) == ALDESLEUKIN_IU_PER_MG
    assert ALDESLEUKIN_MOLAR_MASS_G_PER_MOL == 15300.0


def test_units_defined() -> None:
    assert Q_(1, "MIU").to("IU").magnitude == pytest.approx(1e6, rel=REL)
    assert Q_(1, "kIU").to("IU").magnitude == pytest.approx(1e3, rel=REL)
    assert Q_(1, "mIU").to("IU").magnitude == pytest.approx(1e-3, rel=REL)  # milli, not mega
    assert Q_(3, "international_units").to("IU").magnitude == 3
    assert Q_(5, "cells").to("cell").magnitude == 5
    assert Q_(5, "cell_count").to("cell").magnitude == 5
    assert Q_(2, "Mcell").to("cell").magnitude == pytest.approx(2e6, rel=REL)
    assert str(Q_(1, "IU").dimensionality) == "[il2_activity]"
    assert str(Q_(1, "cell").dimensionality) == "[cells]"


def test_iu_is_not_mass_without_context() -> None:
    with pytest.raises(pint.DimensionalityError):
        Q_(1, "IU").to("mg")


def test_18_miu_is_1_1_mg_both_ways() -> None:
    assert Q_(1.1, "mg").to("MIU", "aldesleukin").magnitude == pytest.approx(18.0, rel=REL)
    assert Q_(18, "MIU").to("mg", "aldesleukin").magnitude == pytest.approx(1.1, rel=REL)
    assert to_magnitude(Q_(1.1, "mg"), "MIU", what="dose") == pytest.approx(18.0, rel=REL)
    assert to_magnitude("18 MIU", "mg", what="dose") == pytest.approx(1.1, rel=REL)
    assert to_magnitude("1 IU", "mg", what="dose") == pytest.approx(MG_PER_IU, rel=REL)


def test_iu_per_ml_to_pm_context_and_helpers() -> None:
    assert pytest.approx(3.994, abs=1e-3) == PM_PER_IU_PER_ML
    got = Q_(1, "IU/mL").to("pM", "aldesleukin").magnitude
    assert got == pytest.approx(PM_PER_IU_PER_ML, rel=REL)
    assert Q_(PM_PER_IU_PER_ML, "pM").to("IU/mL", "aldesleukin").magnitude == pytest.approx(
        1.0, rel=REL
    )
    assert iu_per_ml_to_pm(1.0) == pytest.approx(PM_PER_IU_PER_ML, rel=REL)
    assert isinstance(iu_per_ml_to_pm(1.0), float)
    assert pm_to_iu_per_ml(PM_PER_IU_PER_ML) == pytest.approx(1.0, rel=REL)
    arr = iu_per_ml_to_pm(np.array([1.0, 10.0]))
    np.testing.assert_allclose(arr, [PM_PER_IU_PER_ML, 10 * PM_PER_IU_PER_ML], rtol=REL)
    np.testing.assert_allclose(pm_to_iu_per_ml(arr), [1.0, 10.0], rtol=REL)


def test_concentration_via_mass() -> None:
    # 1 IU/mL = 1.1e-3/18e6 mg/mL = 1.1e6/18e6 ng/mL
    got = to_magnitude("1 IU/mL", "ng/mL", what="conc")
    assert got == pytest.approx(1.1e6 / 18e6, rel=REL)
    assert to_magnitude("1 ng/mL", "pM", what="conc") == pytest.approx(1e-9 / 15300 * 1e3 * 1e12)


def test_pickle_roundtrip() -> None:
    q = Q_(600000, "IU/kg")
    assert pickle.loads(pickle.dumps(q)) == q


# --------------------------------------------------------------------------- parse_quantity


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("600000 IU/kg", "IU/kg", 600000.0),
        ("18 MIU/m**2", "IU/m**2", 18e6),
        ("18 MIU/m^2", "IU/m**2", 18e6),
        ("18 MIU/m2", "IU/m**2", 18e6),
        ("1.1 mg", "mg", 1.1),
        ("0.037 mg/kg", "mg/kg", 0.037),
        ("15 min", "s", 900.0),
        ("8 h", "min", 480.0),
        ("  2.5e9 cells ", "cell", 2.5e9),
        ("18 MIU/m**2/day", "IU/m**2/d", 18e6),
    ],
)
def test_parse_quantity_strings(text: str, unit: str, value: float) -> None:
    q = parse_quantity(text, what="dose")
    assert isinstance(q, pint.Quantity)
    assert q.to(unit).magnitude == pytest.approx(value, rel=REL)


def test_parse_quantity_passes_quantity_through() -> None:
    q = Q_(5, "IU")
    assert parse_quantity(q, what="dose") is q
    other: pint.UnitRegistry[Any] = pint.UnitRegistry()
    moved = parse_quantity(other.Quantity(3, "mg"), what="dose")
    assert moved._REGISTRY is ureg
    assert moved.to("mg").magnitude == 3


@pytest.mark.parametrize("bare", [5, 5.0, "5", " 5 "])
def test_parse_bare_number_is_error(bare: object) -> None:
    with pytest.raises(UnitError, match=r"^bolus: '5(\.0)?' has no unit; write e\.g\. '5"):
        parse_quantity(bare, what="bolus")


def test_parse_dimensionless_quantity_is_error() -> None:
    with pytest.raises(UnitError, match="bolus: '5' has no unit"):
        parse_quantity(Q_(5), what="bolus")


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        ("5 IUU", "IUU"),
        ("5 IU/", "5 IU/"),
        ("5 * * IU", r"5 \* \* IU"),
        ("IU", "IU"),
        ("abc", "abc"),
        ("", "empty"),
        ("nan IU", "nan IU"),
        ("inf mg", "inf mg"),
        (Q_(float("inf"), "IU"), "inf IU"),
        (Q_(np.array([1.0, np.nan]), "IU"), "nan"),
        (None, "None"),
        ([1, 2], r"\[1, 2\]"),
    ],
)
def test_parse_errors(bad: object, shown: str) -> None:
    with pytest.raises(UnitError, match=rf"^infusion_rate: .*{shown}") as info:
        parse_quantity(bad, what="infusion_rate")
    assert "\n" not in str(info.value)


def test_unit_error_is_value_error() -> None:
    assert issubclass(UnitError, ValueError)


# --------------------------------------------------------------------------- BSA


def test_bsa_mosteller() -> None:
    assert bsa_mosteller(70, 175) == pytest.approx(math.sqrt(175 * 70 / 3600), rel=REL)
    assert isinstance(bsa_mosteller(70.0, 175.0), float)


def test_bsa_dubois_published_adult() -> None:
    got = bsa_dubois(70.0, 175.0)
    assert got == pytest.approx(0.007184 * 70**0.425 * 175**0.725, rel=REL)
    assert got == pytest.approx(1.85, abs=0.01)
    assert isinstance(got, float)


def test_bsa_arrays() -> None:
    w = np.array([50.0, 70.0, 90.0])
    h = np.array([160.0, 175.0, 190.0])
    np.testing.assert_allclose(bsa_mosteller(w, h), np.sqrt(h * w / 3600), rtol=REL)
    np.testing.assert_allclose(bsa_dubois(w, h), 0.007184 * w**0.425 * h**0.725, rtol=REL)
    np.testing.assert_allclose(bsa_mosteller(w, 175.0), np.sqrt(175.0 * w / 3600), rtol=REL)
    np.testing.assert_allclose(bsa_dubois(70.0, h), 0.007184 * 70**0.425 * h**0.725, rtol=REL)


@pytest.mark.parametrize("fn", [bsa_mosteller, bsa_dubois])
@pytest.mark.parametrize(
    ("w", "h", "name"),
    [
        (0.0, 175.0, "weight_kg"),
        (-70.0, 175.0, "weight_kg"),
        (70.0, 0.0, "height_cm"),
        (70.0, float("nan"), "height_cm"),
        (np.array([70.0, -1.0]), 175.0, "weight_kg"),
    ],
)
def test_bsa_non_positive(fn: object, w: object, h: object, name: str) -> None:
    assert callable(fn)
    with pytest.raises(UnitError, match=name):
        fn(w, h)


# --------------------------------------------------------------------------- resolve_amount


def test_flat_amounts() -> None:
    assert resolve_amount(Q_(4.2e7, "IU"), "IU") == pytest.approx(4.2e7, rel=REL)
    assert resolve_amount("18 MIU", "IU") == pytest.approx(18e6, rel=REL)
    assert resolve_amount("1.1 mg", "MIU") == pytest.approx(18.0, rel=REL)
    assert resolve_amount("18 MIU", "mg") == pytest.approx(1.1, rel=REL)
    assert resolve_amount("3e9 cells", "cell") == pytest.approx(3e9, rel=REL)
    assert isinstance(resolve_amount("18 MIU", "IU"), float)


def test_per_kg_amount() -> None:
    got = resolve_amount(parse_quantity("600000 IU/kg", what="dose"), "IU", weight_kg=70.0)
    assert got == pytest.approx(4.2e7, rel=REL)
    assert isinstance(got, float)
    assert resolve_amount("1e8 cell/kg", "cell", weight_kg=70) == pytest.approx(7e9, rel=REL)


def test_mg_per_kg_goes_through_potency() -> None:
    expected = 0.037 * 70 * 18e6 / 1.1
    assert resolve_amount("0.037 mg/kg", "IU", weight_kg=70.0) == pytest.approx(expected, rel=REL)
    assert resolve_amount("0.037 mg/kg", "mg", weight_kg=70.0) == pytest.approx(0.037 * 70)
    # IU/kg to mg also goes through the context after scaling by weight
    assert resolve_amount("18 MIU/kg", "mg", weight_kg=2.0) == pytest.approx(2.2, rel=REL)


def test_per_area_amount() -> None:
    bsa = bsa_mosteller(70.0, 175.0)
    expected = 1e6 * math.sqrt(175 * 70 / 3600)
    assert resolve_amount("1e6 IU/m**2", "IU", bsa_m2=bsa) == pytest.approx(expected, rel=REL)
    assert resolve_amount("1 MIU/m2", "IU", bsa_m2=bsa) == pytest.approx(expected, rel=REL)
    # mg/m2 via potency
    got = resolve_amount("1.1 mg/m**2", "MIU", bsa_m2=2.0)
    assert got == pytest.approx(36.0, rel=REL)


def test_arrays_of_patients() -> None:
    weights = np.array([50.0, 70.0, 100.0])
    got = resolve_amount("600000 IU/kg", "IU", weight_kg=weights)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, 600000 * weights, rtol=REL)
    got = resolve_amount("0.037 mg/kg", "IU", weight_kg=[70.0, 80.0])
    np.testing.assert_allclose(got, 0.037 * np.array([70, 80]) * 18e6 / 1.1, rtol=REL)
    bsa = bsa_dubois(weights, np.array([160.0, 175.0, 190.0]))
    got = resolve_amount("18 MIU/m**2", "IU", bsa_m2=bsa)
    np.testing.assert_allclose(got, 18e6 * bsa, rtol=REL)
    # flat doses broadcast to the patients given
    flat = resolve_amount("18 MIU", "IU", weight_kg=weights)
    assert isinstance(flat, np.ndarray)
    np.testing.assert_allclose(flat, [18e6] * 3, rtol=REL)


def test_weight_in_pounds_dose() -> None:
    got = resolve_amount("1 IU/lb", "IU", weight_kg=0.45359237)
    assert got == pytest.approx(1.0, rel=REL)


def test_missing_weight() -> None:
    msg = r"dose '600000 IU/kg' is per kg of body weight: give the patient's weight"
    with pytest.raises(UnitError, match=msg):
        resolve_amount("600000 IU/kg", "IU")
    # a BSA does not stand in for a weight, and IU/kg is not a concentration
    with pytest.raises(UnitError, match="weight_kg"):
        resolve_amount("600000 IU/kg", "IU", bsa_m2=1.8)
    with pytest.raises(UnitError, match="mg/kg.*weight_kg"):
        resolve_amount("0.037 mg/kg", "IU")


def test_missing_bsa() -> None:
    with pytest.raises(UnitError, match=r"18 MIU/m\*\*2.*body surface area.*bsa_m2"):
        resolve_amount("18 MIU/m**2", "IU", weight_kg=70.0)


@pytest.mark.parametrize(
    ("dose", "target", "pattern"),
    [
        ("5 cell", "IU", r"'cell'.*'IU'"),
        ("5 s", "IU", r"'s'.*'IU'"),
        ("5 IU", "cell", r"'IU'.*'cell'"),
        ("5 IU/mL", "IU", r"'IU/m[lL]'.*'IU'"),
        ("5 IU/kg/m**2", "IU", r"'IU'"),
    ],
)
def test_incompatible_units(dose: str, target: str, pattern: str) -> None:
    with pytest.raises(UnitError, match=pattern):
        resolve_amount(dose, target, weight_kg=70.0, bsa_m2=1.8)


def test_resolve_bad_inputs() -> None:
    with pytest.raises(UnitError, match="IUx"):
        resolve_amount("5 IU", "IUx")
    with pytest.raises(UnitError, match="weight_kg"):
        resolve_amount("5 IU/kg", "IU", weight_kg=-70.0)
    with pytest.raises(UnitError, match="bsa_m2"):
        resolve_amount("5 IU/m**2", "IU", bsa_m2=np.array([1.8, 0.0]))
    with pytest.raises(UnitError, match="shapes"):
        resolve_amount("5 IU/kg", "IU", weight_kg=[70.0, 80.0], bsa_m2=[1.8, 1.9, 2.0])
    with pytest.raises(UnitError, match="'5' has no unit"):
        resolve_amount("5", "IU")


# --------------------------------------------------------------------------- resolve_rate


def test_rate_per_area() -> None:
    bsa = bsa_mosteller(70.0, 175.0)
    got = resolve_rate("18 MIU/m**2/day", "IU", "min", bsa_m2=bsa)
    assert got == pytest.approx(18e6 * bsa / (24 * 60), rel=REL)
    assert resolve_rate("18 MIU/m2/d", "IU", "h", bsa_m2=1.0) == pytest.approx(18e6 / 24)


def test_rate_flat_and_per_kg() -> None:
    assert resolve_rate("1.1 mg/h", "MIU", "h") == pytest.approx(18.0, rel=REL)
    # drug mass per body size per time also goes through the potency
    got = resolve_rate("0.037 mg/kg/h", "IU", "min", weight_kg=70.0)
    assert got == pytest.approx(0.037 * 70 * 18e6 / 1.1 / 60, rel=REL)
    got = resolve_rate("1.1 mg/m2/day", "IU", "day", bsa_m2=2.0)
    assert got == pytest.approx(36e6, rel=REL)
    weights = np.array([60.0, 80.0])
    got = resolve_rate("6000 IU/kg/min", "IU", "h", weight_kg=weights)
    np.testing.assert_allclose(got, 6000 * 60 * weights, rtol=REL)


def test_rate_errors() -> None:
    with pytest.raises(UnitError, match=r"rate '18 MIU/m\*\*2/day'.*bsa_m2"):
        resolve_rate("18 MIU/m**2/day", "IU", "min")
    with pytest.raises(UnitError, match=r"'IU/min'"):
        resolve_rate("18 MIU", "IU", "min")
    with pytest.raises(UnitError, match=r"time_unit 'kg'"):
        resolve_rate("18 MIU/day", "IU", "kg")
    with pytest.raises(UnitError, match="fortnightx"):
        resolve_rate("18 MIU/day", "IU", "fortnightx")


# --------------------------------------------------------------------------- to_magnitude


def test_to_magnitude() -> None:
    assert to_magnitude(Q_(2, "h"), "min", what="duration") == pytest.approx(120.0)
    assert isinstance(to_magnitude("15 min", "h", what="duration"), float)


def test_to_magnitude_errors() -> None:
    with pytest.raises(UnitError, match=r"^duration: cannot convert '15 min' to 'IU'"):
        to_magnitude("15 min", "IU", what="duration")
    with pytest.raises(UnitError, match=r"^conc:.*IU/kg.*pM"):
        to_magnitude("1 IU/kg", "pM", what="conc")
    with pytest.raises(UnitError, match=r"^duration: unknown unit 'minn'"):
        to_magnitude("15 min", "minn", what="duration")
    with pytest.raises(UnitError, match=r"^duration: '15' has no unit"):
        bare: Any = 15
        to_magnitude(bare, "min", what="duration")
    with pytest.raises(UnitError, match=r"^duration: expected a single value"):
        to_magnitude(Q_(np.array([1.0, 2.0]), "h"), "min", what="duration")


# --------------------------------------------------------------------------- physiological bounds


def test_bsa_bounds_are_the_mosteller_bsa_of_the_weight_and_height_bounds() -> None:
    w_lo, w_hi, _ = PHYSIOLOGICAL_BOUNDS["weight"]
    h_lo, h_hi, _ = PHYSIOLOGICAL_BOUNDS["height"]
    b_lo, b_hi, unit = PHYSIOLOGICAL_BOUNDS["bsa"]
    assert unit == "m**2"
    assert (b_lo, b_hi) == (bsa_mosteller(w_lo, h_lo), bsa_mosteller(w_hi, h_hi))
    assert 0.17 < b_lo < 0.18 and 6.9 < b_hi < 7.0


@pytest.mark.parametrize(("name", "inside", "outside", "shown"), [
    ("weight", [2.1, 70.0, 635.0], [70.0, 5000.0], "5000 kg"),
    ("weight", [40.0], 2.0, "2 kg"),
    ("height", [54.6, 175.0, 272.0], 300.0, "300 cm"),
    ("bsa", [1.73], 20.0, "20 m**2"),
])
def test_check_physiological(name: str, inside: list[float], outside: object,
                             shown: str) -> None:
    check_physiological(name, inside)
    with pytest.raises(UnitError, match=rf"^patient\.{name}: {re.escape(shown)} is outside the "
                                        "physiological range"):
        check_physiological(name, outside, what=f"patient.{name}")


@pytest.mark.parametrize(("call", "hint"), [
    # A dose's example keeps the dose unit the user wrote; anything else becomes IU.
    (lambda: parse_dose("abc IU", what="dose"), "'abc IU' does not start with a number; "
     "write e.g. '5 IU'"),
    (lambda: parse_dose("abc mg/kg", what="dose"), "write e.g. '5 mg/kg'"),
    (lambda: parse_dose("abc kg", what="dose"), "write e.g. '5 IU'"),
    (lambda: parse_dose("5", what="rate", rate=True), "'5' has no unit; write e.g. '5 IU/h'"),
    # Any other quantity: the example is in the unit asked for, or one of its kind.
    (lambda: to_magnitude("70", "kg", what="weight"), "'70' has no unit; write e.g. '70 kg'"),
    (lambda: parse_quantity(70, what="height", unit="cm"), "write e.g. '70 cm'"),
    (lambda: to_magnitude("abc", "kg", what="weight"), "write e.g. '5 kg'"),
    (lambda: to_magnitude("abc IU", "kg", what="weight"), "write e.g. '5 kg'"),
    (lambda: to_magnitude("abc lb", "kg", what="weight"), "write e.g. '5 lb'"),
])
def test_hints_are_written_in_a_unit_of_the_quantity_asked_for(
        call: Callable[[], object], hint: str) -> None:
    with pytest.raises(UnitError) as info:
        call()
    assert str(info.value).endswith(hint)
