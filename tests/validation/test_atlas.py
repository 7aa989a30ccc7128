"""The trials atlas: every shipped file loads; a bad file is a one-line error naming the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from il2sim.config.scenario import ConfigError
from il2sim.config.trial import load_trial
from il2sim.trial.calibrated import with_posterior_draw
from il2sim.validation.atlas import atlas, load_published_trial
from il2sim.validation.endpoints import ENDPOINTS
from il2sim.validation.run import replicate_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "trials"

TINY = """
id = "tiny"
title = "A tiny trial"
short = "Tiny"
indication = "rcc"
criteria = "RECIST"
population = "anyone"
design = "label"
follow_up_years = 1.0

[sources]
paper = "Author A. A paper. J Test 2000;1:1-2."

[[arms]]
name = "a"
label = "Arm A"
n = 10
protocol = { kind = "label", dose = "600000 IU/kg", max_courses = 1 }

[[outcomes]]
endpoint = "objective_response"
arm = "a"
count = 2
n = 10
source = "paper"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trial.toml"
    path.write_text(text)
    return path


def test_every_shipped_trial_loads_with_cited_computable_outcomes() -> None:
    trials = atlas()
    assert [t.id.split("_")[0] for t in trials] == ["c1", "c2", "c3", "c4", "c5", "c6", "c7",
                                                    "x1", "x2", "x3", "x4"]
    # the calibration set (TRIALS) and the checks no calibration reads
    assert [t.role for t in trials] == ["calibration"] * 7 + ["check"] * 4
    for trial in trials:
        for outcome in trial.outcomes:
            assert outcome.endpoint is ENDPOINTS[outcome.endpoint.name]
            assert outcome.citation == trial.sources[outcome.source]
            assert outcome.citation.strip()
        for arm in trial.arms:
            assert (arm.spec is None) == bool(arm.why_not)
    # C1 reports 37 responses of 255 (Fisher 1997); the atlas holds that fact once.
    c1 = atlas(["c1"])[0]
    orr = next(o for o in c1.outcomes if o.endpoint.name == "objective_response")
    assert (orr.observed.count, orr.observed.n) == (37, 255)
    # X2's low-dose arm (McDermott 2005): 3 SC IL-2 doses on day 1, then daily 5 days a week
    # to week 4 (22 in all), interferon three times a week for 4 weeks; a course every 6 weeks
    low = atlas(["x2"])[0].arm("sc_il2_ifn").spec
    assert low is not None
    ev = low.treatment().regimen().events()
    first = ev[ev.course == 1]
    assert (first.drug == "IL-2").sum() == 22 and (first.drug == "IFN-alpha").sum() == 12
    assert ev[ev.course == 2].time_h.min() == 42 * 24


def test_pooled_toxicity_arms_are_the_pivotal_arms() -> None:
    c1, c2, c3 = atlas(["c1", "c2", "c3"])
    assert c3.arm("rcc").spec == c1.arm("high_dose").spec
    assert c3.arm("melanoma").key == c2.arm("high_dose").key
    assert sum(a.n for a in c3.arms) == 525


@pytest.mark.parametrize("example, trial", [("rcc.toml", "c1"), ("melanoma.toml", "c2")])
def test_pivotal_replicate_zero_is_the_example_trial(example: str, trial: str) -> None:
    """Replicate 0 of C1/C2 is the shipped example trial (only the run's name differs; at the
    calibration posterior's draw 0 when one is stored), so ``il2sim validate`` and
    ``il2sim trial`` give the same patients and the same ORR."""
    arm = atlas([trial])[0].arms[0]
    assert arm.spec is not None
    ours = replicate_spec(arm.spec, arm.key, 0)
    theirs = load_trial(EXAMPLES / example)
    theirs = dataclasses.replace(theirs, population=with_posterior_draw(
        theirs.population, theirs.indication, 0))
    assert dataclasses.replace(ours, name=theirs.name) == theirs


def test_a_tiny_file_loads(tmp_path: Path) -> None:
    trial = load_published_trial(_write(tmp_path, TINY))
    assert trial.arms[0].spec is not None and trial.arms[0].spec.n_patients == 10
    assert trial.outcomes[0].observed.point == pytest.approx(0.2)


@pytest.mark.parametrize("old, new, key", [
    ('source = "paper"\n', 'source = ""\n', "outcomes[0].source"),
    ('source = "paper"\n', 'source = "other"\n', "outcomes[0].source"),
    ('source = "paper"\n', "", "outcomes[0].source"),
    ('endpoint = "objective_response"', 'endpoint = "happiness"', "outcomes[0].endpoint"),
    ('arm = "a"', 'arm = "b"', "outcomes[0].arm"),
    ("count = 2\n", "count = 20\n", "outcomes[0].count"),
    ('kind = "label"', 'kind = "magic"', "arms[0].protocol"),
    ('dose = "600000 IU/kg"', 'dose = "5 apples"', "arms[0].protocol"),
    ('criteria = "RECIST"', 'criteria = "vibes"', "criteria"),
    ('indication = "rcc"', 'indication = "flu"', "indication"),
    ("n = 10\nprotocol", "protocol", "arms[0].n"),
    ('label = "Arm A"', 'label = "Arm A"\ncolour = "red"', "arms[0].colour"),
])
def test_bad_files_name_the_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    assert old in TINY
    with pytest.raises(ConfigError) as info:
        load_published_trial(_write(tmp_path, TINY.replace(old, new, 1)))
    assert key in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_trial_id_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no published trial 'c9'"):
        atlas(["c9"])
