"""Units, dose parsing and body-size scaling for IL-2 (aldesleukin) simulations.

The package has exactly one :class:`pint.UnitRegistry`, :data:`ureg`, defined here. It adds

* ``international_unit = [il2_activity] = IU`` -- IL-2 biological activity, a base dimension of
  its own (WHO IL-2 international standard). ``MIU = 1e6 IU`` and ``kIU = 1e3 IU``;
  SI prefixes also work (``mIU``).
* ``cell = [cells]`` (plural ``cells``, alias ``cell_count``) for cell numbers.
* ``arb = [arbitrary_amount]`` for amounts in a model's own units (KP98's IL-2).
* ``m2``/``cm2``/``m3``... written without ``**`` as in clinical texts ("18 MIU/m2").

The ``"aldesleukin"`` context links activity, mass and amount of substance through the product
potency and molar mass::

    m [mg]     = A [IU] / P,          P = 18e6 IU / 1.1 mg  (= 16.36 MIU/mg)
    n [mol]    = m [g] / M,           M = 15 300 g/mol
    c          = C / (P * M)          (C in IU/mL -> c in mol/mL; 1 IU/mL = 3.994 pM)

for amounts, concentrations (per volume) and rates (per time).

Dose amounts are resolved to plain numbers by :func:`resolve_amount` / :func:`resolve_rate`,
which scale per-kg doses by body weight and per-m**2 doses by body surface area (BSA,
:func:`bsa_mosteller`, :func:`bsa_dubois`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Final, TypeAlias, cast, overload

import numpy as np
import numpy.typing as npt
import pint

__all__ = [
    "ALDESLEUKIN_IU_PER_MG",
    "ALDESLEUKIN_MOLAR_MASS_G_PER_MOL",
    "ALDESLEUKIN_CONTEXT",
    "Q_",
    "Quantity",
    "UnitError",
    "PHYSIOLOGICAL_BOUNDS",
    "bsa_dubois",
    "bsa_mosteller",
    "check_physiological",
    "header",
    "iu_per_ml_to_pm",
    "parse_dose",
    "parse_quantity",
    "pm_to_iu_per_ml",
    "resolve_amount",
    "resolve_rate",
    "to_magnitude",
    "ureg",
]

FloatArray = npt.NDArray[np.float64]
Quantity: TypeAlias = pint.Quantity[Any]
"""Type of the quantities made by :data:`ureg`, for annotations (``isinstance`` needs
``pint.Quantity``)."""

# Potency: Proleukin (aldesleukin) US prescribing information, 18 million IU = 1.1 mg of
# protein, i.e. 16.36 MIU/mg.
ALDESLEUKIN_IU_PER_MG: Final[float] = 18e6 / 1.1
# Molar mass: aldesleukin molecular weight approximately 15 300 Da (15.3 kDa), Proleukin label.
ALDESLEUKIN_MOLAR_MASS_G_PER_MOL: Final[float] = 15300.0
ALDESLEUKIN_CONTEXT: Final[str] = "aldesleukin"


class UnitError(ValueError):
    """A quantity is missing a unit, has an unknown or incompatible unit, or a bad value."""


# --------------------------------------------------------------------------- registry

# "m2", "cm2", "mm3" ... (no "**") are read as powers: "18 MIU/m2" == "18 MIU/m**2".
_BARE_POWER_RE: Final = re.compile(r"(?<![\w.])(m|cm|mm|dm|km)([23])(?![\w.])")


def _bare_powers(text: str) -> str:
    return _BARE_POWER_RE.sub(r"\1**\2", text)


def _make_registry() -> pint.UnitRegistry[Any]:
    reg: pint.UnitRegistry[Any] = pint.UnitRegistry(preprocessors=[_bare_powers])
    # Guard against a future pint release defining these names differently.
    for name in ("IU", "international_unit", "MIU", "kIU", "cell", "cell_count", "arb"):
        if name in reg:
            raise RuntimeError(f"pint already defines {name!r}; il2sim.units needs updating")
    reg.define("international_unit = [il2_activity] = IU")
    reg.define("million_international_unit = 1e6 * international_unit = MIU")
    reg.define("thousand_international_unit = 1e3 * international_unit = kIU")
    reg.define("cell = [cells] = _ = cell_count")
    # Amounts in a model's own arbitrary units (e.g. KP98's IL-2 concentration units).
    reg.define("arbitrary_unit = [arbitrary_amount] = arb")

    ctx = pint.Context(ALDESLEUKIN_CONTEXT)
    potency = reg.Quantity(ALDESLEUKIN_IU_PER_MG, "IU/mg")
    molar_mass = reg.Quantity(ALDESLEUKIN_MOLAR_MASS_G_PER_MOL, "g/mol")

    def _mul(factor: Quantity) -> Callable[..., Quantity]:
        def transform(_reg: Any, x: Quantity, **_kw: Any) -> Quantity:
            return cast(Quantity, x * factor)

        return transform

    def _div(factor: Quantity) -> Callable[..., Quantity]:
        def transform(_reg: Any, x: Quantity, **_kw: Any) -> Quantity:
            return cast(Quantity, x / factor)

        return transform

    iu_per_mol = cast(Quantity, potency * molar_mass)
    for per in ("", "/[volume]", "/[time]"):
        act, mass, subst = f"[il2_activity]{per}", f"[mass]{per}", f"[substance]{per}"
        ctx.add_transformation(act, mass, _div(potency))
        ctx.add_transformation(mass, act, _mul(potency))
        ctx.add_transformation(mass, subst, _div(molar_mass))
        ctx.add_transformation(subst, mass, _mul(molar_mass))
        ctx.add_transformation(act, subst, _div(iu_per_mol))
        ctx.add_transformation(subst, act, _mul(iu_per_mol))
    reg.add_context(ctx)
    return reg


ureg: Final[pint.UnitRegistry[Any]] = _make_registry()
"""The package's only unit registry."""
Q_: Final = ureg.Quantity
# so pickled quantities (e.g. sent to worker processes) unpickle into this registry
cast(Callable[[object], None], pint.set_application_registry)(ureg)


# --------------------------------------------------------------------------- parsing

_NUMBER_START_RE: Final = re.compile(
    r"^\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?:nan|inf(?:inity)?)(?![\w]))",
    re.IGNORECASE,
)


def _has_units(q: Quantity) -> bool:
    # Not ``q.unitless``: that is True for "mg/kg", which is dimensionless but has units.
    return bool(tuple(q.unit_items()))


def _check_finite(q: Quantity, text: str, what: str) -> None:
    try:
        finite = bool(np.all(np.isfinite(np.asarray(q.magnitude, dtype=float))))
    except (TypeError, ValueError) as exc:
        raise UnitError(f"{what}: {text!r} does not have a numeric value") from exc
    if not finite:
        raise UnitError(f"{what}: {text!r} is not finite")


def parse_quantity(value: object, *, what: str, unit: str | None = None,
                   fits: Callable[[str], bool] | None = None) -> Quantity:
    """Turn ``value`` (a :class:`pint.Quantity` or text such as ``"600000 IU/kg"``,
    ``"18 MIU/m**2"``, ``"18 MIU/m^2"``, ``"1.1 mg"``, ``"8 h"``) into a quantity of :data:`ureg`.

    A bare number (``5`` or ``"5"``), text without a leading number, an unknown unit, bad syntax
    or a non-finite value raises :class:`UnitError` naming ``what`` and the offending text.
    ``unit`` is the unit the caller expects (``"kg"`` for a weight): the error's example is
    written in it (:func:`_example_unit`), never in a unit of another kind; ``fits`` tells
    instead which written units the example may keep (a dose: any unit of a dose).
    """
    if isinstance(value, pint.Quantity):
        q: Quantity = value
        if q._REGISTRY is not ureg:  # from another registry: re-create it in ours
            try:
                q = Q_(q.magnitude, str(q.units))
            except Exception as exc:
                raise UnitError(f"{what}: unknown unit in {value!r}") from exc
        if not _has_units(q):
            raise UnitError(f"{what}: '{q.magnitude}' has no unit; write e.g. "
                            f"'{q.magnitude} {_example_unit('', unit, fits)}'")
        _check_finite(q, _fmt(q), what)
        return q
    if isinstance(value, (bool, int, float, np.integer, np.floating)):
        raise UnitError(f"{what}: '{value}' has no unit; write e.g. "
                        f"'{value} {_example_unit('', unit, fits)}'")
    if not isinstance(value, str):
        raise UnitError(
            f"{what}: expected a quantity such as '5 IU', got {type(value).__name__} {value!r}"
        )
    text = value.strip()
    if not text:
        raise UnitError(f"{what}: empty text; write a quantity such as '5 IU'")
    if not _NUMBER_START_RE.match(text):
        raise UnitError(f"{what}: {text!r} does not start with a number; write e.g. "
                        f"'5 {_example_unit(text, unit, fits)}'")
    try:
        parsed: object = ureg.parse_expression(text)
    except Exception as exc:  # pint raises many types (UndefinedUnitError, TokenError, ...)
        detail = f" ({exc})" if str(exc) else ""
        raise UnitError(f"{what}: cannot read {text!r} as a quantity{detail}") from exc
    if not isinstance(parsed, pint.Quantity) or not _has_units(parsed):
        raise UnitError(f"{what}: '{text}' has no unit; write e.g. "
                        f"'{text} {_example_unit('', unit, fits)}'")
    _check_finite(parsed, text, what)
    return parsed


def _example_unit(text: str, expected: str | None,
                  fits: Callable[[str], bool] | None = None) -> str:
    """The unit for an error's example: the unit written in ``text`` (all of it, or what
    follows its first word: ``'abc IU'`` -> ``IU``) when it is of ``expected``'s kind (or
    ``fits`` it), else ``expected`` itself (``IU`` when the caller expects nothing in
    particular)."""
    default = expected or "IU"
    for candidate in (text.strip(), text.strip().partition(" ")[2].strip()):
        if not candidate:
            continue
        try:
            written = ureg.parse_units(candidate)
        except Exception:  # pint raises many types for text that is not a unit
            continue
        if not tuple(Q_(1.0, written).unit_items()):
            continue
        if fits is not None:
            if fits(candidate):
                return candidate
        elif expected is None or Q_(1.0, written).is_compatible_with(expected):
            return candidate
    return default


def _parse_unit(text: str, *, what: str) -> pint.Unit:
    try:
        return ureg.parse_units(text)
    except Exception as exc:
        raise UnitError(f"{what}: unknown unit {text!r} ({exc})") from exc


def _fmt(q: Quantity) -> str:
    mag = q.magnitude
    m = f"{float(mag):.12g}" if np.ndim(mag) == 0 else str(mag)
    return f"{m} {q.units:~C}"


# --------------------------------------------------------------------------- doses

DOSE_AMOUNT_DIMENSIONS: Final = frozenset(
    {"[il2_activity]", "[mass]", "[substance]", "[cells]", "[arbitrary_amount]"})
"""What a dose is an amount of: IL-2 activity (IU, MIU), mass or substance of drug (mg, nmol of
aldesleukin), cells (adoptive transfer), or a model's own amount unit (arb)."""
LARGEST_DRUG_MASS_UNIT: Final = "g"
"""A dose's mass unit is at most this (g, mg, ug...): kg, lb, stone are units of body weight,
so '600000 kg' is a typo for '600000 IU/kg', never 9.8e18 IU of aldesleukin."""


def _dimension(name: str, power: float) -> dict[str, float]:
    return {d: float(cast(float, e)) * power for d, e in ureg.get_dimensionality(name).items()}


def _dose_part(name: str, power: float) -> str | None:
    """Which part of a dose unit ``name**power`` is: 'amount', 'concentration' (an amount per
    volume, e.g. pM), 'body weight', 'body surface', 'volume' or 'time' (the last four as
    divisors), or None when it is none of them."""
    dim = _dimension(name, power)
    amounts = [d for d in dim if d in DOSE_AMOUNT_DIMENSIONS]
    if power == 1 and len(amounts) == 1:
        if dim == {amounts[0]: 1}:
            return "amount"
        if dim == {amounts[0]: 1, "[length]": -3}:
            return "concentration"
    if power > 0:
        return None
    divisors = {"body weight": {"[mass]": -1}, "body surface": {"[length]": -2},
                "volume": {"[length]": -3}, "time": {"[time]": -1}}
    return next((part for part, d in divisors.items() if dim == d), None)


def _is_dose(unit: str, rate: bool) -> bool:
    """Whether ``unit`` is a unit of a dose (or of a rate): for an error's example."""
    try:
        parse_dose(f"1 {unit}", what="", rate=rate)
    except UnitError:
        return False
    return True


def parse_dose(value: object, *, what: str, rate: bool = False) -> Quantity:
    """A dose amount (``rate=False``) or an infusion rate (``rate=True``) as a quantity.

    A dose is one amount unit (:data:`DOSE_AMOUNT_DIMENSIONS`, or an amount per volume such
    as pM for a concentration route), optionally divided by one body-size unit (per kg of body
    weight or per m**2 of body surface area) and by a volume; a rate is also divided by one
    unit of time. ``"600000 IU/kg"``, ``"1.1 mg"``, ``"18 MIU/m**2/day"``, ``"5e6 IU/L/day"``
    pass; ``"600000 kg"`` (body weight, not drug: see :data:`LARGEST_DRUG_MASS_UNIT`),
    ``"5 m"``, ``"5 percent"`` or ``"5 IU*h"`` raise :class:`UnitError` naming ``what``.
    Checked once here, so every way in (library, TOML, CLI, presets, web) refuses the same.
    """
    q = parse_quantity(value, what=what, unit="IU/h" if rate else "IU",
                       fits=lambda unit: _is_dose(unit, rate))
    shown = value.strip() if isinstance(value, str) else _fmt(q)
    if q.check("[time]"):
        raise UnitError(f"{what}: {shown!r} is a time, not an amount")
    if q.dimensionality.get("[time]", 0) != (-1 if rate else 0):
        kind = "an amount per time" if rate else "an amount (it has a time unit)"
        raise UnitError(f"{what}: {shown!r} is not {kind}")
    items = list(q.unit_items())
    parts: list[str | None] = []
    for name, power in items:
        part = _dose_part(name, float(cast(float, power)))
        if part == "amount" and ureg.get_dimensionality(name) == ureg.gram.dimensionality \
                and Q_(1.0, name).to(LARGEST_DRUG_MASS_UNIT).magnitude > 1.0:
            hint = (f"; per kg of body weight is written e.g. '{float(q.magnitude):.6g} IU/kg'"
                    if len(items) == 1 else "")
            raise UnitError(f"{what}: {shown!r} is not a dose: {Q_(1.0, name).units:~C} is a "
                            f"unit of body weight, not an amount of drug{hint}")
        parts.append(part)
    amounts = parts.count("amount") + parts.count("concentration")
    volumes = parts.count("volume") + parts.count("concentration")
    body = parts.count("body weight") + parts.count("body surface")
    if None in parts or amounts != 1 or volumes > 1 or body > 1:
        per_time = " per unit of time" if rate else ""
        raise UnitError(
            f"{what}: {shown!r} is not a dose{per_time}: give an amount of drug (IU, MIU or mg "
            f"of aldesleukin, cells, or the model's amount unit), optionally per kg or per "
            f"m**2{per_time}")
    return q


# --------------------------------------------------------------------------- headers


def header(name: str, unit: str) -> str:
    """The header of a column of values in ``unit``: ``"time (min)"``, ``"C_plasma (IU/mL)"``;
    a dimensionless quantity (unit ``"1"`` or none) is its name alone. The one place every
    table written for people (CSV, Parquet, DataFrames) forms its headers."""
    unit = unit.strip()
    return name if unit in ("", "1") else f"{name} ({unit})"


# --------------------------------------------------------------------------- conversion


def to_magnitude(q: Quantity | str, unit: str, *, what: str) -> float:
    """Magnitude of ``q`` in ``unit`` (aldesleukin context active: mg <-> IU <-> mol).

    Raises :class:`UnitError` naming ``what`` when the units are incompatible or unknown.
    """
    qq = parse_quantity(q, what=what, unit=unit)
    target = _parse_unit(unit, what=what)
    try:
        mag = qq.to(target, ALDESLEUKIN_CONTEXT).magnitude
    except pint.DimensionalityError as exc:
        raise UnitError(f"{what}: cannot convert '{_fmt(qq)}' to '{unit}'") from exc
    if np.ndim(mag) != 0:
        raise UnitError(f"{what}: expected a single value, got '{_fmt(qq)}'")
    return float(mag)


def _covariate(value: object, name: str) -> FloatArray | None:
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UnitError(f"{name} must be a number or an array of numbers, got {value!r}") from exc
    if arr.size == 0 or not bool(np.all(np.isfinite(arr) & (arr > 0))):
        raise UnitError(f"{name} must be positive and finite, got {value!r}")
    return arr


def _compatible(q: Quantity, target: pint.Unit) -> bool:
    return bool(q.is_compatible_with(target, ALDESLEUKIN_CONTEXT))


def _resolve(
    value: Quantity | str,
    target: pint.Unit,
    target_text: str,
    *,
    weight_kg: object,
    bsa_m2: object,
    what: str,
) -> FloatArray | float:
    q = parse_quantity(value, what=what, unit=target_text)
    shown = value.strip() if isinstance(value, str) else _fmt(q)
    weight = _covariate(weight_kg, "weight_kg")
    bsa = _covariate(bsa_m2, "bsa_m2")
    shapes = [c.shape for c in (weight, bsa) if c is not None]
    try:
        out_shape = np.broadcast_shapes(np.shape(q.magnitude), *shapes)
    except ValueError as exc:
        raise UnitError(
            f"{what} '{shown}': weight_kg, bsa_m2 and dose shapes do not match: {shapes}"
        ) from exc

    # Order matters only for clarity: the three cases have distinct dimensions.
    if _compatible(q, target):
        total = q
    elif _compatible(cast(Quantity, q * ureg.kilogram), target):
        if weight is None:
            raise UnitError(
                f"{what} '{shown}' is per kg of body weight: give the patient's weight (weight_kg)"
            )
        total = cast(Quantity, q * Q_(weight, "kg"))
    elif _compatible(cast(Quantity, q * ureg.meter**2), target):
        if bsa is None:
            raise UnitError(
                f"{what} '{shown}' is per m**2 of body surface area: "
                "give the patient's body surface area (bsa_m2)"
            )
        total = cast(Quantity, q * Q_(bsa, "m**2"))
    else:
        raise UnitError(
            f"{what} '{shown}': unit '{q.units:~C}' cannot be converted to '{target_text}' "
            "(not even per kg of body weight or per m**2 of body surface area)"
        )
    try:
        mag = np.asarray(total.to(target, ALDESLEUKIN_CONTEXT).magnitude, dtype=np.float64)
    except pint.DimensionalityError as exc:  # pragma: no cover - guarded by _compatible
        raise UnitError(f"{what} '{shown}': cannot convert to '{target_text}'") from exc
    if out_shape == ():
        return float(mag)
    return np.array(np.broadcast_to(mag, out_shape), dtype=np.float64)


def resolve_amount(
    amount: Quantity | str,
    target_unit: str,
    *,
    weight_kg: npt.ArrayLike | None = None,
    bsa_m2: npt.ArrayLike | None = None,
    what: str = "dose",
) -> FloatArray | float:
    """Dose ``amount`` as plain number(s) in ``target_unit`` (e.g. ``"IU"``, ``"cell"``).

    * flat amounts convert directly; mg of aldesleukin <-> IU through the potency
      (``A = m * 18e6/1.1 IU/mg``, aldesleukin context);
    * per body mass (``amount * kg`` compatible with the target, e.g. IU/kg, mg/kg, cell/kg):
      ``A = amount * weight_kg``;
    * per body surface area (``amount * m**2`` compatible, e.g. MIU/m**2, mg/m2):
      ``A = amount * bsa_m2``.

    ``weight_kg``/``bsa_m2`` may be arrays (one value per patient); the result is then an array
    broadcast to their shape (also for flat doses), else a float. A missing covariate, an
    incompatible unit or non-positive covariates raise :class:`UnitError`.
    """
    target = _parse_unit(target_unit, what=what)
    return _resolve(amount, target, target_unit, weight_kg=weight_kg, bsa_m2=bsa_m2, what=what)


def resolve_rate(
    rate: Quantity | str,
    target_unit: str,
    time_unit: str,
    *,
    weight_kg: npt.ArrayLike | None = None,
    bsa_m2: npt.ArrayLike | None = None,
    what: str = "rate",
) -> FloatArray | float:
    """Dose ``rate`` (e.g. ``"18 MIU/m**2/day"``) as number(s) in ``target_unit`` per
    ``time_unit``, with the per-kg / per-m**2 scaling rules of :func:`resolve_amount`."""
    amount_unit = _parse_unit(target_unit, what=what)
    per = _parse_unit(time_unit, what=what)
    if per.dimensionality != ureg.second.dimensionality:
        raise UnitError(f"{what}: time_unit {time_unit!r} is not a unit of time")
    target = cast(pint.Unit, amount_unit / per)
    return _resolve(
        rate,
        target,
        f"{target_unit}/{time_unit}",
        weight_kg=weight_kg,
        bsa_m2=bsa_m2,
        what=what,
    )


# --------------------------------------------------------------------------- body size


@overload
def bsa_mosteller(weight_kg: float, height_cm: float) -> float: ...
@overload
def bsa_mosteller(weight_kg: FloatArray, height_cm: float | FloatArray) -> FloatArray: ...
@overload
def bsa_mosteller(weight_kg: float, height_cm: FloatArray) -> FloatArray: ...
def bsa_mosteller(
    weight_kg: float | FloatArray, height_cm: float | FloatArray
) -> float | FloatArray:
    """Body surface area [m**2] = sqrt(height_cm * weight_kg / 3600).

    Mosteller RD. Simplified calculation of body-surface area. N Engl J Med 1987;317:1098.
    """
    w = _positive(weight_kg, "weight_kg")
    h = _positive(height_cm, "height_cm")
    return _out(np.sqrt(h * w / 3600.0))


@overload
def bsa_dubois(weight_kg: float, height_cm: float) -> float: ...
@overload
def bsa_dubois(weight_kg: FloatArray, height_cm: float | FloatArray) -> FloatArray: ...
@overload
def bsa_dubois(weight_kg: float, height_cm: FloatArray) -> FloatArray: ...
def bsa_dubois(weight_kg: float | FloatArray, height_cm: float | FloatArray) -> float | FloatArray:
    """Body surface area [m**2] = 0.007184 * W[kg]**0.425 * H[cm]**0.725.

    Du Bois D, Du Bois EF. A formula to estimate the approximate surface area if height and
    weight be known. Arch Intern Med 1916;17:863-871.
    """
    w = _positive(weight_kg, "weight_kg")
    h = _positive(height_cm, "height_cm")
    return _out(0.007184 * w**0.425 * h**0.725)


def _positive(x: object, name: str) -> FloatArray:
    arr = _covariate(x, name)
    assert arr is not None
    return arr


def _out(arr: FloatArray) -> float | FloatArray:
    return float(arr) if arr.ndim == 0 else arr


# --------------------------------------------------------------------------- physiological bounds

# The extremes of adult body size on record (Guinness World Records, the record-keeper):
# heaviest, Jon Brower Minnoch, about 635 kg (1,400 lb) on admission to University of
# Washington Medical Center, Seattle, March 1978 ("Heaviest man ever"); lightest, Lucia Zarate,
# 2.1 kg (4.7 lb) at 17 years ("Lightest adult ever"); tallest, Robert Pershing Wadlow, 272 cm
# (8 ft 11.1 in) when last measured on 27 June 1940 ("Tallest man ever"); shortest, Chandra
# Bahadur Dangi, 54.6 cm (21.5 in), measured three times in 24 h, Kathmandu, 26 February 2012
# ("Shortest man ever").
_WEIGHT_KG: Final = (2.1, 635.0)
_HEIGHT_CM: Final = (54.6, 272.0)

PHYSIOLOGICAL_BOUNDS: Final[dict[str, tuple[float, float, str]]] = {
    "weight": (*_WEIGHT_KG, "kg"),
    "height": (*_HEIGHT_CM, "cm"),
    # Mosteller BSA of the lightest-shortest and heaviest-tallest corners: 0.18 to 6.93 m**2
    "bsa": (bsa_mosteller(_WEIGHT_KG[0], _HEIGHT_CM[0]),
            bsa_mosteller(_WEIGHT_KG[1], _HEIGHT_CM[1]), "m**2"),
}
"""Covariate -> (lowest, highest, unit): the extremes recorded in adults (sources above).
A value outside is a typo ("5000 kg"), not a patient; research use lifts the check
(``physiological_bounds = false``, ``--no-physiological-bounds``)."""


def check_physiological(name: str, value: npt.ArrayLike, *, what: str | None = None) -> None:
    """Raise :class:`UnitError` naming ``what`` (default ``name``) when a covariate ``name``
    (a key of :data:`PHYSIOLOGICAL_BOUNDS`, value in its unit) is outside its bounds."""
    low, high, unit = PHYSIOLOGICAL_BOUNDS[name]
    values = np.atleast_1d(np.asarray(value, dtype=np.float64))
    outside = values[(values < low) | (values > high)]
    if outside.size:
        raise UnitError(
            f"{what or name}: {float(outside[0]):.6g} {unit} is outside the physiological range "
            f"{low:.3g} to {high:.3g} {unit} (the extremes recorded in adults); "
            "physiological_bounds = false (--no-physiological-bounds) lifts the bounds")


# --------------------------------------------------------------------------- IU/mL <-> pM

# 1 IU/mL = (1.1e-3 g / 18e6) / 15300 g/mol per mL = 3.994e-12 mol/L = 3.994 pM
_PM_PER_IU_PER_ML: Final[float] = (
    1e-3 / ALDESLEUKIN_IU_PER_MG / ALDESLEUKIN_MOLAR_MASS_G_PER_MOL * 1e3 * 1e12
)
assert math.isclose(_PM_PER_IU_PER_ML, 3.9942, rel_tol=1e-4)


@overload
def iu_per_ml_to_pm(x: float) -> float: ...
@overload
def iu_per_ml_to_pm(x: FloatArray) -> FloatArray: ...
def iu_per_ml_to_pm(x: float | FloatArray) -> float | FloatArray:
    """Aldesleukin concentration IU/mL -> pM: c [pM] = C [IU/mL] * 1e12 / (P [IU/mg] * M [g/mol])
    (1 IU/mL = 3.994 pM; potency and molar mass from the Proleukin label)."""
    return _out(np.asarray(x, dtype=np.float64) * _PM_PER_IU_PER_ML)


@overload
def pm_to_iu_per_ml(x: float) -> float: ...
@overload
def pm_to_iu_per_ml(x: FloatArray) -> FloatArray: ...
def pm_to_iu_per_ml(x: float | FloatArray) -> float | FloatArray:
    """Aldesleukin concentration pM -> IU/mL (inverse of :func:`iu_per_ml_to_pm`)."""
    return _out(np.asarray(x, dtype=np.float64) / _PM_PER_IU_PER_ML)
