"""The [protocol] table of trial files: the designs it writes, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from il2sim.cli import cli
from il2sim.io.config import ConfigError
from il2sim.io.trial_config import trial_from_dict
from il2sim.trial.runner import run_trial

BASE = {"name": "t", "indication": "rcc", "n_patients": 4, "seed": 1}
CI = {"kind": "infusion", "rate": "18 MIU/m**2/day", "duration": "5 day",
      "schedule": {"at": ["0 day"]}}


def protocol(**table: object) -> dict[str, object]:
    return {**BASE, "protocol": table}


def test_yang_and_negrier_designs_are_written_as_data() -> None:
    bolus = {"kind": "bolus", "amount": "720000 IU/kg",
             "schedule": {"days": [1, 2, 3, 4, 5, 6], "times": ["0 h", "8 h", "16 h"]}}
    spec = trial_from_dict(protocol(kind="regimen", cycles=[bolus], max_doses_per_cycle=15,
                                    max_courses=3, retreat_if="response"))
    (drug,) = spec.treatment().drugs
    assert drug.max_doses_per_cycle == 15 and spec.treatment().retreat_if == "response"
    ifn = {"kind": "depot", "route": "ifn_sc", "amount": "6 MIU",
           "schedule": {"weekdays": [1, 3, 5], "weeks": 3, "times": ["8 h"]}}
    spec = trial_from_dict(protocol(
        kind="regimen", max_courses=5, first_retreatment="10 week",
        course_interval="3 week", retreat_if="response_or_stable", drugs=[
            {"name": "IL-2", "cycles": [CI, {**CI, "schedule": {"at": ["11 day"]}}],
             "maintenance_cycles": [CI], "split_infusions": "8 h"},
            {"name": "IFN-alpha", "cycles": [ifn], "holds": {"hold_if": ["confusion >= 2"]}}]))
    ev = spec.treatment().regimen().events()
    spec = trial_from_dict(protocol(kind="regimen", cycles=[bolus], holds={
        "relative": ["2.5 <= creatinine < 3"], "relative_to_stop": 3, "relative_holds": True}))
    assert spec.treatment().drugs[0].holds.relative_holds  # type: ignore[union-attr]
    il2 = ev[ev.drug == "IL-2"]
    assert list(il2.groupby("course").size()) == [30, 15, 15, 15, 15]  # 8-h segments
    assert il2[il2.course == 2].time_h.min() == 70 * 24
    assert il2[il2.course == 3].time_h.min() == 91 * 24
    assert ev[ev.drug == "IFN-alpha"].course.max() == 5


@pytest.mark.parametrize(("table", "key", "words"), [
    ({"kind": "regimen", "regimen": CI, "holds": {"hold_if": ["lactate > 4"]}},
     "protocol.holds", "reads 'lactate', which model 'il2_qsp' does not have"),
    ({"kind": "regimen", "regimen": CI, "max_doses_per_cycle": 0},
     "protocol.max_doses_per_cycle", "greater than or equal to 1"),
    ({"kind": "label", "max_courses": 0}, "protocol.max_courses", "greater than or equal"),
    ({"kind": "regimen"}, "protocol.regimen", "give the drug's regimen"),
    ({"kind": "regimen", "drugs": [{"name": "IL-2"}]}, "protocol.drugs[0].regimen",
     "give the drug's regimen"),
    ({"kind": "regimen", "regimen": CI, "hold_if": ["sbp < 90"]}, "protocol.hold_if",
     "unknown key"),
    ({"kind": "regimen", "regimen": CI, "holds": {"hold_if": ["sbp is low"]}},
     "protocol.holds.hold_if[0]", "write e.g. 'sbp < 90'"),
    ({"kind": "regimen", "regimen": CI, "holds": {"hold_if": ["sbp < 90"],
                                                   "relative_holds": True}},
     "protocol.holds", "relative_holds needs relative criteria"),
    ({"kind": "regimen", "regimen": CI, "max_courses": 2, "retreat_if": "maybe"},
     "protocol.retreat_if", "one of shrinkage"),
    ({"kind": "label", "split_infusions": "8 h"}, "protocol.split_infusions",
     "only for kind = 'regimen'"),
])
def test_bad_protocol_input_is_one_line_naming_file_and_key(
        table: dict[str, object], key: str, words: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        trial_from_dict(protocol(**table), source="bad.toml")
    assert info.value.key == key and words in info.value.problem
    assert str(info.value).startswith(f"bad.toml: {key}: ") and "\n" not in str(info.value)


def test_a_bad_protocol_stores_nothing(tmp_path: Path) -> None:
    trial = tmp_path / "bad.toml"
    trial.write_text('name = "t"\nindication = "rcc"\nn_patients = 4\nseed = 1\n[protocol]\n'
                     'kind = "regimen"\nregimen = { preset = "continuous_infusion" }\n'
                     'holds = { hold_if = ["lactate > 4"] }\n')
    db, out = tmp_path / "store.duckdb", tmp_path / "out"
    result = CliRunner().invoke(cli, ["trial", str(trial), "--db", str(db), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {trial}: protocol.holds: rule 'lactate > 4' reads 'lactate', which model "
        "'il2_qsp' does not have"]
    assert not db.exists() and not out.exists()


def test_a_continuous_infusion_arm_is_interrupted_for_hypotension() -> None:
    """A continuous IV infusion over 5 days (twice Negrier's 18 MIU/m2/day, at which the
    model's patients reach the label's limits) in 8-h segments under the label's rules: the
    dose log shows the interruptions with their reasons; without segments the one 5-day
    infusion is decided once."""
    table = {"kind": "regimen", "regimen": {**CI, "rate": "36 MIU/m**2/day"},
             "split_infusions": "8 h"}
    spec = trial_from_dict({**BASE, "n_patients": 12, "protocol": table,
                            "followup": {"years": 0.1}, "simulation": {"chunk_size": 12}})
    doses = run_trial(spec).doses
    assert len(doses) == 12 * 15 and np.allclose(doses.duration_h, 8.0)
    held = doses[doses.status == "held"]
    assert held.reason.str.startswith(("held: SBP < 90", "cycle stopped")).any()
    assert (held.reason != "").all() and len(held) > 0
    # interrupted, then resumed: a given segment after a held one, for some patient
    by_patient = doses.sort_values("time_h").groupby("patient")["status"].agg(list)
    assert any("held" in s and s.index("held") < len(s) - 1 - s[::-1].index("given")
               for s in by_patient)


def test_in_a_trial_no_course_follows_progression_on_the_stored_scans() -> None:
    """The label arm, 48 patients for 13 months: every course after the first given to a
    patient alive at its start starts only when no stored scan before it shows a RECIST PD
    and the last one shows shrinkage (the decider measures the very scans the trial stores;
    that no course follows death is the mortality model's part)."""
    from il2sim.trial.response import RECIST, classify_scans

    spec = trial_from_dict({**BASE, "n_patients": 48, "protocol": {"kind": "label"},
                            "followup": {"years": 1.1}, "simulation": {"chunk_size": 48}})
    result = run_trial(spec)
    lesions = result.patients.set_index("patient")["n_lesions"]
    alive_until = result.endpoints.set_index("patient")["os_d"]
    given = result.doses[result.doses.status == "given"]
    starts = given[given.course > 1].groupby(["patient", "course"])["time_h"].min() / 24
    assert len(starts) > 0
    for (pid, course), day in starts.items():
        if alive_until[pid] <= day:
            continue
        scans = result.scans[(result.scans.patient == pid) & (result.scans.day < day)]
        sod = scans.sort_values("day")["sod_mm"].to_numpy()
        calls = classify_scans(sod, int(lesions[pid]), RECIST)
        assert len(calls) and "PD" not in calls and sod[-1] < sod[0], (pid, course)
    refused = result.doses[result.doses.reason == "not retreated: progression"]
    assert len(refused) > 0
