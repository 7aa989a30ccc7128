"""HIV trials: the population's entry CD4, the steady state on therapy, the CD4 endpoints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from il2sim import get_model, presets, simulate
from il2sim.trial.hiv import HIV_ENTRY_CD4, hiv_endpoints, hiv_initial, hiv_population


def test_entry_cd4_has_the_trials_median_and_criterion() -> None:
    cd4 = hiv_population().sample(40_000, 3)["baseline_cd4"]
    assert cd4.min() >= HIV_ENTRY_CD4[1]
    assert cd4.median() == pytest.approx(HIV_ENTRY_CD4[0], rel=0.01)


def test_untreated_patients_stay_at_their_baseline() -> None:
    """Each patient starts at the model's steady state on therapy: without IL-2 the CD4
    count stays where it started (2 years), with IL-2 cycles it rises."""
    model = get_model("il2_hiv")
    patients = hiv_population().sample(5, 1)
    params, initial = hiv_initial(model, patients)
    days = np.arange(0.0, 731.0)
    control = simulate(model, None, params, days, initial=initial, backend="scipy",
                       rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(control["cd4"], np.repeat(
        patients["baseline_cd4"].to_numpy()[:, None], len(days), axis=1), rtol=1e-5)
    il2 = simulate(model, presets.hiv_subcutaneous_cycles("7.5 MIU", 3), params, days,
                   initial=initial, backend="scipy")
    assert np.all(il2["cd4"][:, 120] > control["cd4"][:, 120] + 50)


def test_endpoints_of_a_known_course() -> None:
    """A CD4 count rising linearly from 400 to 500 over 100 days (1 cell/uL a day) has the
    mean 450 and 0.5 * 7 * 7 = 24.5 cell-days/uL above baseline by day 7 (the trapezoid rule
    is exact for a line)."""
    days = np.linspace(0.0, 100.0, 101)
    cd4 = np.vstack([400.0 + days, np.full(101, 300.0)])
    patients = pd.DataFrame({"patient": [0, 1], "baseline_cd4": [400.0, 300.0]})
    doses = pd.DataFrame({"patient": [0, 0, 1], "dose_id": [0, 10, 0],
                          "status": ["given", "given", "held"]})
    out = hiv_endpoints(patients, days, cd4, np.zeros((2, 101)), doses, {0: 1, 10: 2})
    assert out["cd4_mean"].tolist() == pytest.approx([450.0, 300.0])
    assert out["cd4_mean_change"].tolist() == pytest.approx([50.0, 0.0])
    assert out["cd4_auc_week1"].tolist() == pytest.approx([24.5, 0.0])
    assert out["cycles_given"].tolist() == [2, 0]
    assert out["doses_given"].tolist() == [2, 0]
