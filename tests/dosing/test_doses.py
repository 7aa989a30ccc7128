"""Tests for il2sim.dosing.doses: single administrations and their validation."""

from __future__ import annotations

import dataclasses

import pytest

from il2sim.dosing import Bolus, Depot, DoseError, Infusion, Intratumoral
from il2sim.units import Q_, ureg


def magnitude_in(q: object, unit: str) -> float:
    assert isinstance(q, ureg.Quantity)
    return float(q.to(unit).magnitude)


# --------------------------------------------------------------------------- instantaneous


@pytest.mark.parametrize(
    ("cls", "route"), [(Bolus, "iv"), (Depot, "sc"), (Intratumoral, "it")]
)
def test_instant_doses(cls: type[Bolus], route: str) -> None:
    d = cls(amount="9 MIU")
    assert d.route == route
    assert d.kind == "bolus"
    assert d.duration_h == 0.0
    assert magnitude_in(d.amount, "IU") == pytest.approx(9e6, rel=1e-15)
    assert cls(amount="1 MIU", route="other").route == "other"


def test_amount_per_kg_and_per_m2_stay_symbolic() -> None:
    d = Bolus(amount="600000 IU/kg")
    assert magnitude_in(d.amount, "IU/kg") == 600000.0
    d2 = Depot(amount="18 MIU/m2")  # clinical spelling without **
    assert magnitude_in(d2.amount, "IU/m**2") == pytest.approx(18e6, rel=1e-15)


def test_amount_as_quantity_and_in_mg() -> None:
    d = Bolus(amount=Q_(1.1, "mg"))
    assert magnitude_in(d.amount, "mg") == 1.1
    assert Bolus(amount="1e6 cells", route="cells").amount.check("[cells]")


@pytest.mark.parametrize("cls", [Bolus, Depot, Intratumoral])
@pytest.mark.parametrize("amount", ["0 IU", "-5 IU", "-1 MIU/kg"])
def test_non_positive_amount_is_an_error(cls: type[Bolus], amount: str) -> None:
    with pytest.raises(DoseError, match="must be positive"):
        cls(amount=amount)


@pytest.mark.parametrize("amount", ["5 h", "15 min", "2 day"])
def test_amount_with_time_unit_is_an_error(amount: str) -> None:
    with pytest.raises(DoseError, match=r"bolus amount: .* is a time, not an amount"):
        Bolus(amount=amount)


@pytest.mark.parametrize("amount", [5, 5.0, "5"])
def test_bare_number_amount_is_an_error(amount: object) -> None:
    with pytest.raises(DoseError, match="has no unit"):
        Bolus(amount=amount)  # type: ignore[arg-type]


def test_non_finite_and_unknown_units_are_errors() -> None:
    with pytest.raises(DoseError, match="not finite"):
        Bolus(amount="nan IU")
    with pytest.raises(DoseError, match="cannot read"):
        Bolus(amount="5 flurbs")


def test_empty_route_is_an_error() -> None:
    with pytest.raises(DoseError, match="route must be a route name"):
        Bolus(amount="1 IU", route="")


@pytest.mark.parametrize("amount", ["5 IU/h", "18 MIU/m**2/day", "5 IU*h"])
def test_amount_with_any_time_dimension_is_an_error(amount: str) -> None:
    with pytest.raises(DoseError):
        Bolus(amount=amount)


# --------------------------------------------------------------------------- infusion


def test_infusion_with_amount_and_duration() -> None:
    d = Infusion(amount="600000 IU/kg", duration="15 min")
    assert d.kind == "infusion"
    assert d.route == "iv"
    assert d.duration_h == 0.25
    assert magnitude_in(d.amount, "IU/kg") == 600000.0
    assert d.rate is None


def test_infusion_rate_times_duration() -> None:
    # 18 MIU/m**2/day over 5 days = 90 MIU/m**2
    d = Infusion(rate="18 MIU/m**2/day", duration="5 day")
    assert magnitude_in(d.amount, "MIU/m**2") == pytest.approx(90.0, rel=1e-14)
    assert d.duration_h == 120.0
    assert magnitude_in(d.rate, "MIU/m**2/day") == 18.0
    # mixed time units: 100 IU/h for 15 min = 25 IU; 1000 IU/min for 1 day = 1.44 MIU
    assert magnitude_in(Infusion(rate="100 IU/h", duration="15 min").amount, "IU") == \
        pytest.approx(25.0, rel=1e-14)
    assert magnitude_in(Infusion(rate="1000 IU/min", duration="1 day").amount, "IU") == \
        pytest.approx(1.44e6, rel=1e-14)
    # per kg rate: 600000 IU/kg/h for 15 min = 150000 IU/kg
    assert magnitude_in(Infusion(rate="600000 IU/kg/h", duration="15 min").amount,
                        "IU/kg") == pytest.approx(150000.0, rel=1e-14)


def test_infusion_amount_and_rate_is_an_error() -> None:
    with pytest.raises(DoseError, match="either amount or rate, not both"):
        Infusion(amount="90 MIU/m**2", rate="18 MIU/m**2/day", duration="5 day")


def test_infusion_without_duration_is_an_error() -> None:
    with pytest.raises(DoseError, match="give its duration"):
        Infusion(amount="1 MIU")
    with pytest.raises(DoseError, match="give its duration"):
        Infusion(rate="1 MIU/h")


def test_infusion_without_amount_or_rate_is_an_error() -> None:
    with pytest.raises(DoseError, match="give its amount"):
        Infusion(duration="1 h")


@pytest.mark.parametrize("amount", ["0 IU", "-3 MIU"])
def test_infusion_non_positive_amount(amount: str) -> None:
    with pytest.raises(DoseError, match="infusion amount: must be positive"):
        Infusion(amount=amount, duration="1 h")


def test_infusion_non_positive_rate() -> None:
    with pytest.raises(DoseError, match="infusion rate: must be positive"):
        Infusion(rate="-5 IU/h", duration="1 h")


def test_infusion_rate_that_is_not_per_time() -> None:
    with pytest.raises(DoseError, match=r"infusion rate: '5 IU' is not an amount per time"):
        Infusion(rate="5 IU", duration="1 h")


def test_infusion_amount_with_time_unit_and_bare_number() -> None:
    with pytest.raises(DoseError, match="infusion amount: '5 h' is a time"):
        Infusion(amount="5 h", duration="1 h")
    with pytest.raises(DoseError, match="infusion amount: '5' has no unit"):
        Infusion(amount=5, duration="1 h")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("duration", "message"),
    [("0 h", "must be positive"), ("-1 h", "must be positive"), ("5 IU", "is not a time"),
     (2, "has no unit")],
)
def test_infusion_bad_duration(duration: object, message: str) -> None:
    with pytest.raises(DoseError, match=f"infusion duration: .*{message}"):
        Infusion(amount="1 IU", duration=duration)  # type: ignore[arg-type]


def test_doses_are_immutable() -> None:
    b = Bolus(amount="1 MIU")
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.amount = Q_(2, "MIU")  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.route = "sc"  # type: ignore[misc]
    i = Infusion(amount="1 MIU", duration="1 h")
    with pytest.raises(dataclasses.FrozenInstanceError):
        i.duration = Q_(2, "h")  # type: ignore[misc]


def test_describe() -> None:
    assert Infusion(amount="600000 IU/kg", duration="15 min").describe() == \
        "infusion 600000.0 IU/kg over 15 min (iv)"
    assert Bolus(amount="5000 IU").describe() == "bolus 5000 IU (iv)"


def test_describe_uses_short_symbol_for_miu() -> None:
    assert Depot(amount="9 MIU").describe() == "depot 9 MIU (sc)"


# ------------------------------------------------------------- what a dose is (issue 14)

AMOUNTS = ["600000 IU/kg", "1.1 mg", "0.1 mg/kg", "5 ug", "18 MIU/m**2", "18 MIU/m2", "1 nmol",
           "1e6 cells", "5 arb", "20 pM", "2e4 IU/L", "1e6 IU/m**2"]
RATES = ["18 MIU/m**2/day", "600000 IU/kg/h", "1000 IU/min", "550 cell/day", "5e6 IU/L/day",
         "1e6 cell/L/day", "5 arb/day"]


@pytest.mark.parametrize("amount", AMOUNTS)
def test_amounts_of_drug_are_doses(amount: str) -> None:
    assert Bolus(amount=amount).quantity == Q_(amount)


@pytest.mark.parametrize("rate", RATES)
def test_amounts_per_time_are_infusion_rates(rate: str) -> None:
    assert Infusion(rate=rate, duration="1 h").rate == Q_(rate)


@pytest.mark.parametrize(("amount", "message"), [
    ("600000 kg", "'600000 kg' is not a dose: kg is a unit of body weight, not an amount of drug; "
                  "per kg of body weight is written e.g. '600000 IU/kg'"),
    ("5 lb", "'5 lb' is not a dose: lb is a unit of body weight"),
    ("5 IU*kg", "'5 IU*kg' is not a dose: kg is a unit of body weight"),
    ("5 m", "'5 m' is not a dose: give an amount of drug"),
    ("5 L", "'5 L' is not a dose: give an amount of drug"),
    ("5 percent", "'5 percent' is not a dose: give an amount of drug"),
    ("5 IU/m", "'5 IU/m' is not a dose"),
    ("5 IU/kg/m**2", "'5 IU/kg/m**2' is not a dose"),
    ("5 IU*MIU", "'5 IU*MIU' is not a dose"),
])
def test_what_is_not_an_amount_of_drug_is_refused(amount: str, message: str) -> None:
    with pytest.raises(DoseError) as caught:
        Bolus(amount=amount)
    assert str(caught.value).startswith(f"bolus amount: {message}")


@pytest.mark.parametrize("rate", ["600000 kg/h", "5 m/h", "5 IU/m/h"])
def test_what_is_not_a_rate_of_drug_is_refused(rate: str) -> None:
    with pytest.raises(DoseError, match=f"infusion rate: '{rate}' is not a dose"):
        Infusion(rate=rate, duration="1 h")
