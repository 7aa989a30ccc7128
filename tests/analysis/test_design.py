"""The report's design tables: a stored trial config and population read back, rounded."""

from __future__ import annotations

import json
import math
from pathlib import Path

from il2sim import get_model
from il2sim.analysis.design import Z90, design_table, population_table, read_population
from il2sim.config.trial import load_trial
from il2sim.population import Categorical, CovariateEffect, LogNormal, Normal, Population

RCC = Path(__file__).parents[2] / "examples" / "trials" / "rcc.toml"


def test_a_label_trial_reads_as_a_design_table() -> None:
    config = json.loads(json.dumps(load_trial(RCC).describe(), default=str))  # as stored
    design = design_table(config)["value"]
    assert design["patients"] == "255" and design["dose"] == "600000 IU/kg"
    assert "x14 from 0 h to 104 h" in design["IL-2: regimen"]
    assert design["IL-2: doses per cycle at most"] == "14"
    assert "SBP < 90" in design["IL-2: held for"]
    assert "creatinine >= 3" in design["IL-2: cycle stopped for"]
    assert design["courses"] == "up to 5, every 84 days, repeated on shrinkage"
    assert design["follow-up"] == "5 years (1826 days)"


def test_the_population_repr_reads_back_as_rows() -> None:
    population = Population(
        params={"ant": LogNormal(0.8946457108189508, 0.6369324039781865)},
        covariates={"weight": Normal(80.0, 15.0, bounds=(45.0, 150.0)),
                    "prior_therapy": Categorical((False, True), (0.85, 0.15))},
        effects=(CovariateEffect("ant", "prior_therapy", {True: 0.6}),))
    stored = read_population(repr(population))
    assert stored is not None
    full = population_table(stored, get_model("il2_qsp"))
    table = full[full[""] != "effect"].set_index("name")
    ant = table.loc["ant"]
    low, high = (0.8946457108189508 * math.exp(s * Z90 * 0.6369324039781865) for s in (-1, 1))
    assert (ant["distribution"], ant["median"]) == ("log-normal", "0.895")
    assert ant["spread"] == f"sigma 0.637 (90%: {low:.3g}-{high:.3g})" == \
        "sigma 0.637 (90%: 0.314-2.55)"
    assert ant["meaning"] == "tumour antigenicity (immunogenicity)"
    weight = table.loc["weight"]
    assert weight.tolist()[2:] == ["normal", "80", "SD 15", "45-150"]
    assert table.loc["prior_therapy", "spread"] == "no: 85%, yes: 15%"
    effect = full[full[""] == "effect"].iloc[0]
    assert effect["distribution"] == "x0.6 when prior_therapy = yes"


def test_nothing_stored_is_executed() -> None:
    for text in ("__import__('os').system('echo hacked')", "Population(params=open('x'))",
                 "Population(params={'a': LogNormal(median=1, sigma=eval('1'))})",
                 "LogNormal(median=1.0, sigma=0.5)", "Population(", ""):
        assert read_population(text) is None
