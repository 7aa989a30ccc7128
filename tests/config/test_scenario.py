"""Scenario files: TOML -> validated specs -> library objects -> the same numbers as the API."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import il2sim
from il2sim import Bolus, Infusion, Regimen, Schedule, get_model, presets, simulate
from il2sim.config.scenario import MAX_OUTPUT_VALUES
from il2sim.io import (
    ConfigError,
    load_scenario,
    override,
    parse_assignment,
    read_toml,
    regimen_from_toml,
    scenario_from_dict,
)

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.toml"))

KONRAD = """
model = "aldesleukin_pk"
title = "Konrad bolus"
[patient]
bsa = "1.73 m**2"
[[regimen]]
kind = "bolus"
amount = "1e6 IU/m**2"
[simulation]
end = "8 h"
points = 481
"""


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_same(a: il2sim.SimulationResult, b: il2sim.SimulationResult) -> None:
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.observables, b.observables)
    assert list(a.status) == list(b.status) == ["ok"] * a.n_patients


# --------------------------------------------------------------------------- round trips


def test_konrad_bolus_round_trip(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, KONRAD))
    assert scenario.name == "scenario" and scenario.title == "Konrad bolus"
    np.testing.assert_array_equal(scenario.times, np.linspace(0, 480, 481))  # minutes
    expected = simulate(get_model("aldesleukin_pk"), Regimen.of(Bolus("1e6 IU/m**2"),
                                                                Schedule(at=["0 h"])),
                        times=np.linspace(0, 480, 481), covariates={"bsa": 1.73})
    result = scenario.run()
    assert_same(result, expected)
    # Konrad 1990: 1e6 U/m2 bolus -> about 650 U/mL; half-lives about 13 and 85 min.
    c = result["C_plasma"][0]
    assert c[0] == pytest.approx(650, rel=0.02)
    terminal = np.log(2) * 240 / np.log(c[240] / c[480])
    assert terminal == pytest.approx(85, rel=0.05)


def test_preset_round_trip(tmp_path: Path) -> None:
    text = """
model = "aldesleukin_pk"
regimen = { preset = "label_high_dose", dose = "720000 IU/kg" }
[patient]
weight = "70 kg"
height = "175 cm"
[simulation]
end = "2 day"
points = 577
"""
    scenario = load_scenario(write(tmp_path, text))
    expected = simulate(get_model("aldesleukin_pk"), presets.label_high_dose(dose="720000 IU/kg"),
                        times=np.linspace(0, 2 * 1440, 577),
                        covariates={"weight": 70.0, "height": 175.0})
    result = scenario.run()
    assert_same(result, expected)
    assert list(result.dose_log["time_h"]) == [0, 8, 16, 24, 32, 40, 48]  # q8h, end included
    np.testing.assert_allclose(result.dose_log["amount"], 720000 * 70)


def test_adoptive_transfer_round_trip(tmp_path: Path) -> None:
    text = """
model = "kp1998"
[params]
c = 0.02
[[regimen]]
kind = "infusion"
route = "cells"
rate = "550 cell/day"
duration = "100 day"
[simulation]
end = "100 day"
points = 101
"""
    scenario = load_scenario(write(tmp_path, text))
    drug = Infusion(rate="550 cell/day", duration="100 day", route="cells")
    expected = simulate(get_model("kp1998"), Regimen.of(drug, Schedule(at=["0 h"])),
                        {"c": 0.02}, np.linspace(0, 100, 101))
    assert_same(scenario.run(), expected)


def test_schedule_fields_pass_through() -> None:
    data = [{"kind": "infusion", "amount": "600000 IU/kg", "duration": "15 min",
             "label": "cycle 1",
             "schedule": {"days": [1, 2, 3, 4, 5], "times": ["0 h", "8 h", "16 h"],
                          "max_doses": 14}},
            {"kind": "depot", "amount": "9 MIU",
             "schedule": {"every": "1 day", "count": 3, "start": "8 h"}}]
    regimen = regimen_from_toml(data)
    expected = (Regimen.of(Infusion(amount="600000 IU/kg", duration="15 min"),
                           Schedule(days=[1, 2, 3, 4, 5], times=["0 h", "8 h", "16 h"],
                                    max_doses=14), label="cycle 1")
                + Regimen.of(il2sim.Depot("9 MIU"), Schedule(every="1 day", count=3,
                                                              start="8 h")))
    assert regimen.events().equals(expected.events())
    assert regimen.routes == ("iv", "sc")  # defaults per kind


def test_mixed_presets_and_doses() -> None:
    regimen = regimen_from_toml([{"preset": "intratumoral", "count": 2},
                                 {"kind": "bolus", "amount": "1 MIU"}])
    events = regimen.events()
    assert list(events["route"]) == ["it", "iv", "it"]
    assert list(events["time_h"]) == [0.0, 0.0, 168.0]


def test_quantities_convert_to_declared_units() -> None:
    data = {"model": "aldesleukin_pk", "params": {"k10": "2.706 1/h", "V1": "2900 mL"},
            "initial": {"A_c": "1 MIU"}, "patient": {"weight": "70kg", "height": "1.75 m"},
            "simulation": {"times": ["0 h", "30 min", "1 h"]}}
    scenario = scenario_from_dict(data)
    assert scenario.params["k10"] == pytest.approx(0.0451)  # model unit 1/min
    assert scenario.params["V1"] == pytest.approx(2.9)  # L
    assert scenario.initial["A_c"] == pytest.approx(1e6)  # IU
    assert scenario.covariates == {"weight": 70.0, "height": pytest.approx(175.0)}
    np.testing.assert_allclose(scenario.times, [0.0, 30.0, 60.0])
    assert scenario.regimen.administrations == ()


def test_one_value_per_patient() -> None:
    data = {"model": "aldesleukin_pk", "patient": {"weight": ["50 kg", "70 kg", "90 kg"]},
            "params": {"k10": [0.04, 0.045, 0.05]},
            "regimen": {"kind": "bolus", "amount": "10000 IU/kg"},
            "simulation": {"end": "2 h", "points": 13}}
    scenario = scenario_from_dict(data)
    assert scenario.n_patients == 3
    result = scenario.run()
    expected = simulate(get_model("aldesleukin_pk"),
                        Regimen.of(Bolus("10000 IU/kg"), Schedule(at=["0 h"])),
                        {"k10": np.array([0.04, 0.045, 0.05])}, np.linspace(0, 120, 13),
                        covariates={"weight": np.array([50.0, 70.0, 90.0])})
    assert_same(result, expected)
    np.testing.assert_allclose(result["A_c"][:, 0], [5e5, 7e5, 9e5])


def test_simulation_options_reach_the_engine() -> None:
    data = {"model": "kp1998", "simulation": {"end": "50 day", "points": 51, "rtol": 1e-8,
                                              "atol": {"T": 1e-10}, "method": "BDF"}}
    scenario = scenario_from_dict(data)
    assert scenario.options.method == "BDF"
    assert scenario.options.atol == {"T": 1e-10}
    expected = simulate(get_model("kp1998"), None, None, np.linspace(0, 50, 51), rtol=1e-8,
                        atol={"T": 1e-10}, method="BDF")
    assert_same(scenario.run(), expected)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_loads_and_runs(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert path.read_text().startswith("#")  # a comment header says what it shows
    result = scenario.run()
    assert result.ok.all()
    assert np.all(np.isfinite(result.states))


def test_example_numbers() -> None:
    folder = EXAMPLES[0].parent
    untreated = load_scenario(folder / "kp1998_oscillations.toml").run()["T"][0]
    assert untreated.min() < 1e-10 and untreated[-300:].max() > 1e5  # crashes, relapses
    adoptive = load_scenario(folder / "kp1998_adoptive.toml").run()["T"][0]
    assert adoptive[-500:].max() < 1e-10  # cleared
    sc = load_scenario(folder / "pk_subcutaneous.toml").run()["C_plasma"][0]
    label = load_scenario(folder / "pk_label_course.toml").run()["C_plasma"][0]
    assert 10 < sc.max() < 200 < 5000 < label.max()


# --------------------------------------------------------------------------- errors

BASE: dict[str, Any] = {"model": "aldesleukin_pk", "patient": {"weight": "70 kg"},
                        "simulation": {"end": "8 h"}}
DOSE: dict[str, Any] = {"kind": "bolus", "amount": "5 IU"}


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


ERRORS: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown top key", with_(modle="x"), "modle", "unknown key; known: model, title"),
    ("missing model", {"simulation": {"end": "1 h"}}, "model", "required key is missing"),
    ("unknown model", with_(model="nope"), "model", "unknown model 'nope'"),
    ("unknown parameter", with_(params={"k99": 1}), "params.k99", "has no parameter 'k99'"),
    ("parameter bounds", with_(params={"k10": -1}), "params.k10", "outside its bounds"),
    ("parameter unit", with_(params={"k10": "3 kg"}), "params.k10", "cannot convert '3 kg'"),
    ("parameter type", with_(params={"k10": True}), "params.k10", "got a boolean"),
    ("covariate unit", with_(patient={"weight": "70 cm"}), "patient.weight", "cannot convert"),
    ("covariate no unit", with_(patient={"weight": 70}), "patient.weight", "write e.g. '70 kg'"),
    ("covariate sign", with_(patient={"weight": "-70 kg"}), "patient.weight", "must be positive"),
    ("covariate key", with_(patient={"wieght": "70 kg"}), "patient.wieght", "unknown key"),
    ("negative dose", with_(regimen=[{"kind": "bolus", "amount": "-5 IU"}]),
     "regimen[0].amount", "must be positive, got '-5 IU'"),
    ("dose unit", with_(regimen=[{"kind": "bolus", "amount": "5 foo"}]), "regimen[0].amount",
     "cannot read '5 foo'"),
    ("dose without unit", with_(regimen=[{"kind": "bolus", "amount": 5}]), "regimen[0].amount",
     "has no unit"),
    ("dose for another route", with_(regimen=[{"kind": "bolus", "amount": "5 cell"}]),
     "regimen[0].amount", "route 'iv' takes IU"),
    ("per m2 without bsa", with_(regimen=[{"kind": "bolus", "amount": "5 IU/m**2"}]),
     "regimen[0].amount", "patient.bsa"),
    ("unknown route", with_(regimen=[{**DOSE, "route": "cells"}]), "regimen[0].route",
     "no dose route 'cells'"),
    ("unknown kind", with_(regimen=[{**DOSE, "kind": "pill"}]), "regimen[0].kind",
     "must be 'bolus', 'infusion', 'depot' or 'intratumoral'"),
    ("missing kind", with_(regimen=[{"amount": "5 IU"}]), "regimen[0].kind", "missing"),
    ("missing amount", with_(regimen=[{"kind": "bolus"}]), "regimen[0].amount", "missing"),
    ("rate on a bolus", with_(regimen=[{**DOSE, "rate": "1 IU/h"}]), "regimen[0].rate",
     "does not apply to kind = 'bolus'"),
    ("amount and rate", with_(regimen=[{"kind": "infusion", "amount": "5 IU",
                                        "rate": "1 IU/h", "duration": "1 h"}]),
     "regimen[0]", "either amount or rate, not both"),
    ("infusion without duration", with_(regimen=[{"kind": "infusion", "amount": "5 IU"}]),
     "regimen[0]", "give its duration"),
    ("rate not per time", with_(regimen=[{"kind": "infusion", "rate": "5 IU",
                                          "duration": "1 h"}]),
     "regimen[0].rate", "not an amount per time"),
    ("conflicting schedule", with_(regimen=[{**DOSE, "schedule": {"at": ["0 h"], "every": "8 h",
                                                                  "count": 3}}]),
     "regimen[0].schedule", "conflicting fields 'at' and 'every'"),
    ("schedule count", with_(regimen=[{**DOSE, "schedule": {"every": "8 h", "count": 0}}]),
     "regimen[0].schedule.count", "positive whole number"),
    ("schedule day", with_(regimen=[{**DOSE, "schedule": {"days": [0, 1]}}]),
     "regimen[0].schedule.days", "positive whole number"),
    ("schedule key", with_(regimen=[{**DOSE, "schedule": {"dayz": [1]}}]),
     "regimen[0].schedule.dayz", "unknown key; known: at, every"),
    ("regimen type", with_(regimen="abc"), "regimen", "expected a table"),
    ("unknown preset", with_(regimen={"preset": "nope"}), "regimen.preset",
     "unknown preset 'nope'"),
    ("preset argument", with_(regimen={"preset": "label_high_dose", "dosage": "1 IU/kg"}),
     "regimen.dosage", "takes no argument 'dosage'; known: dose, infusion"),
    ("negative preset dose", with_(regimen={"preset": "label_high_dose", "dose": "-5 IU/kg"}),
     "regimen.dose", "must be positive"),
    ("no end", with_(simulation={}), "simulation.end", "required key is missing"),
    ("end unit", with_(simulation={"end": "8 kg"}), "simulation.end", "cannot convert '8 kg'"),
    ("end without unit", with_(simulation={"end": 8}), "simulation.end", "has no unit"),
    ("negative end", with_(simulation={"end": "-8 h"}), "simulation.end", "must be positive"),
    ("points", with_(simulation={"end": "8 h", "points": 1}), "simulation.points",
     "greater than or equal to 2"),
    ("times and end", with_(simulation={"end": "8 h", "times": ["0 h"]}), "simulation.times",
     "not both"),
    ("unsorted times", with_(simulation={"times": ["1 h", "0 h"]}), "simulation.times",
     "sorted"),
    ("rtol", with_(simulation={"end": "8 h", "rtol": -1}), "simulation.rtol", "greater than 0"),
    ("atol state", with_(simulation={"end": "8 h", "atol": {"X": 1e-3}}), "simulation.atol.X",
     "no state 'X'"),
    ("backend", with_(simulation={"end": "8 h", "backend": "cuda"}), "simulation.backend",
     "unknown backend 'cuda'"),
    ("initial sign", with_(initial={"A_c": -1}), "initial.A_c", "negative initial value"),
    ("initial state", with_(initial={"B": 1}), "initial.B", "no state 'B'"),
    # issue 14: doses that are not amounts of drug, impossible patients, huge outputs
    ("dose in kg", with_(regimen=[{"kind": "bolus", "amount": "600000 kg"}]),
     "regimen[0].amount", "'600000 kg' is not a dose: kg is a unit of body weight"),
    ("rate in kg", with_(regimen=[{"kind": "infusion", "rate": "600000 kg/h",
                                   "duration": "1 h"}]),
     "regimen[0].rate", "'600000 kg/h' is not a dose: kg is a unit of body weight"),
    ("preset dose in kg", with_(regimen={"preset": "label_high_dose", "dose": "600000 kg"}),
     "regimen.dose", "'600000 kg' is not a dose"),
    ("dose in metres", with_(regimen=[{"kind": "bolus", "amount": "5 m"}]),
     "regimen[0].amount", "'5 m' is not a dose: give an amount of drug"),
    ("weight 5000 kg", with_(patient={"weight": "5000 kg"}), "patient.weight",
     "5000 kg is outside the physiological range 2.1 to 635 kg"),
    ("one of the weights", with_(patient={"weight": ["70 kg", "1 kg"]}), "patient.weight",
     "1 kg is outside the physiological range"),
    ("height 3 m", with_(patient={"height": "3 m"}), "patient.height",
     "300 cm is outside the physiological range 54.6 to 272 cm"),
    ("bsa 20 m2", with_(patient={"bsa": "20 m**2"}), "patient.bsa",
     "20 m**2 is outside the physiological range 0.178 to 6.93 m**2"),
    ("bounds flag type", with_(patient={"weight": "70 kg", "physiological_bounds": "no"}),
     "patient.physiological_bounds", "valid boolean"),
    ("1e8 output times", with_(simulation={"end": "21 day", "points": 100_000_000}),
     "simulation.points", "100000000 output times x 1 patient x 7 variables is 7e+08 values, "
     "more than the limit of 5e+07"),
    ("output times x patients", with_(patient={"weight": [f"{w} kg" for w in range(40, 140)]},
                                      simulation={"end": "21 day", "points": 100_000}),
     "simulation.points", "100000 output times x 100 patients x 7 variables"),
    ("batch sizes", with_(params={"k10": [0.1, 0.2]},
                          patient={"weight": ["70 kg", "80 kg", "90 kg"]}),
     "params.k10", "2 values, but patient.weight has 3"),
]


def test_physiological_bounds_can_be_lifted() -> None:
    """``physiological_bounds = false`` lets a research scenario use any positive size."""
    data = with_(patient={"weight": ["5000 kg", "1 kg"], "physiological_bounds": False},
                 regimen=[{"kind": "bolus", "amount": "1 IU/kg"}])
    scenario = scenario_from_dict(data, source="x.toml")
    np.testing.assert_array_equal(scenario.covariates["weight"], [5000.0, 1.0])
    amounts = scenario.run().dose_log.groupby("patient")["amount"].sum()
    assert amounts.tolist() == pytest.approx([5000.0, 1.0])


def test_output_size_is_checked_before_any_array_is_made() -> None:
    """The limit is on the file the run would write: refused without making 1e12 times."""
    with pytest.raises(ConfigError, match="1000000000000 output times"):
        scenario_from_dict(with_(simulation={"end": "8 h", "points": 10**12}), source="x.toml")
    assert MAX_OUTPUT_VALUES // 7 >= 481 * 1000  # a 1000-patient Konrad batch still fits


def test_output_size_counts_the_dose_times_added_to_the_grid() -> None:
    """Points at the limit pass the first check; the dose times on the grid tip it over."""
    points = MAX_OUTPUT_VALUES // 7  # aldesleukin_pk: 7 states and observables
    data = with_(regimen=[{"kind": "bolus", "amount": "5 IU",
                           "schedule": {"every": "1 min", "count": 100}}],
                 simulation={"end": "8 h", "points": points})
    with pytest.raises(ConfigError, match=r"simulation\.points: 71429\d\d output times x 1 "):
        scenario_from_dict(data, source="x.toml")
    data["regimen"][0]["schedule"]["count"] = 1  # the one dose at 0 is already on the grid
    assert len(scenario_from_dict(data, source="x.toml").times) == points


@pytest.mark.parametrize(("data", "key", "text"), [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_errors_name_the_key(data: dict[str, Any], key: str, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        scenario_from_dict(data, source="x.toml")
    error = caught.value
    assert error.source == "x.toml"
    assert error.key == key
    assert text in error.problem
    assert str(error) == f"x.toml: {key}: {error.problem}"
    assert "\n" not in str(error)


def test_log_state_needs_a_positive_initial_value() -> None:
    with pytest.raises(ConfigError, match=r"initial\.E: .*must be positive"):
        scenario_from_dict({"model": "kp1998", "initial": {"E": 0},
                            "simulation": {"end": "1 day"}})


def test_malformed_toml_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'model = "kp1998"\n[params\nc = 1\n')
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert caught.value.key == "line 2, column 8"
    assert str(caught.value).startswith(f"{path}: line 2, column 8: invalid TOML: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read: No such file"):
        read_toml(tmp_path / "nope.toml")


def test_regimen_errors_are_located_under_where() -> None:
    with pytest.raises(ConfigError) as caught:
        regimen_from_toml([DOSE, {"kind": "bolus", "amount": "0 IU"}], "arms[1].regimen",
                          source="trial.toml")
    assert str(caught.value) == ("trial.toml: arms[1].regimen[1].amount: must be positive, "
                                 "got '0 IU'")


def test_config_error_survives_pickling() -> None:
    error = ConfigError("x.toml", "params.k10", "bad")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.source, copy.key, copy.problem, str(copy)) == ("x.toml", "params.k10", "bad",
                                                                str(error))


# --------------------------------------------------------------------------- overrides


def test_override_preset_and_dose() -> None:
    data = override(read_toml(EXAMPLES[0].parent / "pk_konrad_bolus.toml"),
                    preset="label_high_dose", dose="720000 IU/kg",
                    patient={"weight": "80 kg"}, params={"k10": 0.05}, end="1 day", points=97)
    assert data["regimen"] == {"preset": "label_high_dose", "dose": "720000 IU/kg"}
    scenario = scenario_from_dict(data)
    assert scenario.params == {"k10": 0.05}
    assert scenario.covariates["weight"] == 80.0 and scenario.covariates["bsa"] == 1.73
    assert len(scenario.times) == 97 and scenario.times[-1] == 1440.0


def test_override_dose_of_single_administration_and_continuous_infusion() -> None:
    data = override({"regimen": [{"kind": "infusion", "rate": "1 MIU/h", "duration": "1 h"}]},
                    dose="2 MIU")
    assert data["regimen"] == [{"kind": "infusion", "amount": "2 MIU", "duration": "1 h"}]
    data = override({}, preset="continuous_infusion", dose="9 MIU/m**2/day")
    assert data["regimen"] == {"preset": "continuous_infusion", "rate": "9 MIU/m**2/day"}


def test_override_dose_needs_one_administration() -> None:
    with pytest.raises(ConfigError, match=r"--dose: .*2 entries"):
        override({"regimen": [DOSE, DOSE]}, dose="1 IU")
    with pytest.raises(ConfigError, match="--dose: no regimen"):
        override({}, dose="1 IU")


def test_override_end_replaces_times() -> None:
    data = override({"simulation": {"times": ["0 h", "1 h"], "rtol": 1e-8}}, end="2 h")
    assert data["simulation"] == {"rtol": 1e-8, "end": "2 h"}


def test_parse_assignment() -> None:
    assert parse_assignment("k10=0.05") == ("k10", 0.05)
    assert parse_assignment(" V1 = 3 L ") == ("V1", "3 L")
    with pytest.raises(ConfigError, match="expected name=value"):
        parse_assignment("k10")


KP98_FILE = Path(__file__).parents[2] / "examples" / "kp1998_oscillations.toml"


@pytest.mark.parametrize(("title", "params", "heading"), [
    # The example's title states c; --set c=0.035 must not leave it saying 0.02.
    ("KP98 untreated, c = 0.02", {"c": 0.035}, "KP98 untreated, c = 0.035 1/day"),
    # A unit written in the title is replaced by the model's, with the value converted.
    ("c = 2e-2 1/day here", {"c": "0.0015 1/h"}, "c = 0.036 1/day here"),
    # A parameter set but not named in the title follows on a second line.
    ("KP98 untreated", {"c": 0.035, "mu2": 0.05}, "KP98 untreated\nc = 0.035 1/day, "
     "mu2 = 0.05 1/day"),
    # No title: the model's name and title, then the file's parameters.
    ("", {}, "kp1998: Kirschner-Panetta 1998 tumour-effector-IL-2 model\nc = 0.02 1/day"),
])
def test_heading_shows_the_parameters_used(title: str, params: dict[str, Any],
                                           heading: str) -> None:
    data = override(read_toml(KP98_FILE) | {"title": title}, params=params)
    assert scenario_from_dict(data).heading == heading
