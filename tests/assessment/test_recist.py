"""RECIST 1.1 from lesion diameters, on cases worked by hand from the guideline.

Eisenhauer et al. 2009, Eur J Cancer 45:228 (measurability, target selection, target,
non-target and overall response, Tables 1 and 2) and the EORTC RECIST working group's
clarifications (recist.eortc.org: lymph nodes are one organ; 165 -> 63 -> 65 mm is a
continuing PR). Lesion-level response as Radny et al. 2003, Br J Cancer 89:1620 counted
treated metastases.
"""

from __future__ import annotations

import numpy as np
import pytest

from il2sim.assessment import ResponseCriteriaError, best_response
from il2sim.assessment.recist import (
    STABLE_NON_TARGET,
    Lesion,
    assess,
    best_lesion_responses,
    best_overall_response,
    lesion_calls,
    local_response,
    select_targets,
)
from il2sim.assessment.response import WHO

DAYS = np.array([0.0, 56, 112, 168])


def test_targets_are_the_largest_measurable_lesions_two_per_organ_all_organs_first() -> None:
    lesions = [Lesion("liver a", "liver"), Lesion("liver b", "liver"), Lesion("liver c", "liver"),
               Lesion("lung", "lung"), Lesion("mediastinal node", "chest", node=True),
               Lesion("axillary node", "axilla", node=True), Lesion("skin", "skin"),
               Lesion("brain", "brain")]
    # a 12 mm node is pathological but not measurable; an 8 mm skin lesion is not measurable
    sel = select_targets(lesions, [50, 40, 30, 25, 18, 12, 8, 0])
    assert sel.targets == (0, 1, 3, 4)              # liver 50, 40; lung 25; node 18: 133 mm
    assert sel.non_targets == (2, 5, 6)
    assert sel.absent == (7,)
    assert assess(lesions, [[50, 40, 30, 25, 18, 12, 8, 0]] * 2).target_sum[0] == 133


def test_every_involved_organ_is_represented_before_a_second_lesion() -> None:
    organs = ("a", "a", "b", "b", "c", "c", "d")
    lesions = [Lesion(f"{o}{k}", o) for k, o in enumerate(organs)]
    sel = select_targets(lesions, [50, 49, 48, 47, 46, 45, 10])
    assert sel.targets == (0, 1, 2, 4, 6)  # a50, b48, c46, d10, then a49: five in all
    assert sel.non_targets == (3, 5)


def test_lymph_nodes_are_one_organ_and_small_nodes_are_normal() -> None:
    lesions = [Lesion("neck", "neck", node=True), Lesion("axilla", "axilla", node=True),
               Lesion("groin", "groin", node=True), Lesion("node 9 mm", "pelvis", node=True)]
    sel = select_targets(lesions, [30, 25, 20, 9])
    assert sel.targets == (0, 1)
    assert sel.non_targets == (2,)
    assert sel.absent == (3,)  # short axis below 10 mm: not a lesion


def test_target_thresholds_and_the_nadir() -> None:
    one = [Lesion("a", "liver")]
    # -30% is PR; +20% over the nadir is not PD without 5 mm; with 5 mm it is
    assert list(assess(one, [[20], [14], [10], [12.5], [15]]).target) == ["PR", "PR", "PR", "PD"]
    assert list(assess(one, [[100], [71], [85], [0]]).target) == ["SD", "SD", "CR"]


def test_a_confirmed_pr_continues_while_the_sum_stays_below_pd() -> None:
    two = [Lesion("a", "liver"), Lesion("b", "lung")]
    scans = assess(two, [[100, 65], [40, 23], [41, 24]])  # 165 -> 63 -> 65 mm
    assert list(scans.target_sum) == [165, 63, 65]
    assert list(scans.overall) == ["PR", "PR"]
    best = best_overall_response([0, 56, 112], scans)
    assert best.bor == "PR" and best.response_day == 56
    assert best.best_change_pct == pytest.approx(100 * (63 - 165) / 165)


def test_target_cr_needs_every_pathological_node_below_10_mm() -> None:
    lesions = [Lesion("liver", "liver"), Lesion("node", "chest", node=True)]
    scans = assess(lesions, [[20, 16], [0, 8]])
    assert scans.target_sum[1] == 8 and list(scans.target) == ["CR"]  # nodes keep a size
    assert list(scans.overall) == ["CR"]
    with_non_target = lesions + [Lesion("node 2", "neck", node=True)]  # 12 mm: non-target
    scans = assess(with_non_target, [[20, 16, 12], [0, 8, 12]])
    assert list(scans.target) == ["PR"] and list(scans.non_target) == [STABLE_NON_TARGET]
    assert list(scans.overall) == ["PR"]
    scans = assess(with_non_target, [[20, 16, 12], [0, 8, 9]])
    assert list(scans.overall) == ["CR"]


def test_overall_response_follows_table_1() -> None:
    lesions = [Lesion("liver a", "liver"), Lesion("liver b", "liver"), Lesion("liver c", "liver"),
               Lesion("bone", "bone")]
    base = [30, 25, 20, 0]  # targets liver a, b (55 mm); liver c is a third: non-target
    cases = {  # scan -> (target, non-target, new, overall)
        (0, 0, 20, 0): ("CR", STABLE_NON_TARGET, False, "PR"),
        (0, 0, 0, 0): ("CR", "CR", False, "CR"),
        (15, 10, 20, 0): ("PR", STABLE_NON_TARGET, False, "PR"),
        (28, 24, 20, 0): ("SD", STABLE_NON_TARGET, False, "SD"),
        (28, 24, 20, 6): ("SD", STABLE_NON_TARGET, True, "PD"),      # a new lesion
        (15, 10, 25, 0): ("PR", "PD", False, "PD"),                   # 25^3/20^3 = 1.95, +5 mm
        (15, 10, 24, 0): ("PR", STABLE_NON_TARGET, False, "PR"),      # 1.728 < 1.73
        (36, 30, 0, 0): ("PD", "CR", False, "PD"),                     # 66 = 1.2*55, +11 mm
    }
    for scan, (target, non_target, new, overall) in cases.items():
        s = assess(lesions, [base, list(scan)])
        assert s.selection.targets == (0, 1)
        assert (s.target[0], s.non_target[0], bool(s.new_lesions[0]), s.overall[0]) == \
            (target, non_target, new, overall), scan


def test_unequivocal_non_target_progression_needs_5_mm() -> None:
    lesions = [Lesion("liver", "liver"), Lesion("skin", "skin")]
    s = assess(lesions, [[30, 6], [30, 9]])  # volume x3.4 but 3 mm
    assert list(s.non_target) == [STABLE_NON_TARGET]


def test_non_target_disease_only_follows_table_2() -> None:
    lesions = [Lesion("skin", "skin"), Lesion("node", "neck", node=True),
               Lesion("lung", "lung")]
    s = assess(lesions, [[8, 12, 0], [5, 12, 0], [0, 9, 0], [0, 9, 4]])
    assert s.selection.targets == ()
    assert list(s.target) == ["NA"] * 3
    assert list(s.overall) == [STABLE_NON_TARGET, "CR", "PD"]
    best = best_overall_response(DAYS, s)
    assert best.bor == STABLE_NON_TARGET and best.progression_day == 168
    assert np.isnan(best.best_change_pct)


def test_lesion_level_responses_and_local_response() -> None:
    lesions = [Lesion("treated 1", "skin"), Lesion("treated 2", "skin"),
               Lesion("untreated", "skin")]
    d = [[20, 20, 20], [0, 12, 22], [0, 0, 28], [0, 0, 40]]
    assert lesion_calls(lesions, d).tolist() == [["CR", "PR", "SD"], ["CR", "CR", "PD"],
                                                 ["CR", "CR", "PD"]]
    best = best_lesion_responses(DAYS, lesions, d)
    assert [b.bor for b in best] == ["CR", "CR", "SD"]  # SD at day 56 (>= 6 weeks), then PD
    assert best[1].response_day == 56  # PR at 56 confirmed by CR at 112
    assert best[2].progression_day == 112
    assert local_response(DAYS, lesions, d, ["treated 1", "treated 2"]).complete
    partial = [[20, 20, 20], [0, 12, 22], [0, 10, 28], [0, 9, 40]]
    local = local_response(DAYS, lesions, partial, ["treated 1", "treated 2"])
    assert [b.bor for b in local.best] == ["CR", "PR"] and not local.complete
    # the patient: two skin targets (the treated ones) and the untreated non-target, whose
    # growth (28/20 mm: volume x2.7, +8 mm) is PD at day 112: the PR at 56 is unconfirmed
    scans = assess(lesions, d)
    assert list(scans.overall) == ["PR", "PD", "PD"]
    assert best_overall_response(DAYS, scans).bor == "SD"


def test_one_lesion_agrees_with_the_sum_of_diameters_criteria() -> None:
    """With one target lesion, the lesion-level RECIST equals il2sim's RECIST on the sum."""
    d = np.array([40.0, 30, 26, 27, 33, 0])
    days = np.arange(6) * 42.0
    scans = assess([Lesion("a", "liver")], d[:, None])
    assert list(scans.target) == ["SD", "PR", "PR", "PD", "CR"]
    ours = best_overall_response(days, scans)
    assert ours == best_response(days, d, 1)


def test_malformed_scans_are_errors() -> None:
    one = [Lesion("a", "liver")]
    with pytest.raises(ResponseCriteriaError, match=r"\(scans, 1 lesions\)"):
        assess(one, [[1.0, 2.0]])
    with pytest.raises(ResponseCriteriaError, match="finite and >= 0"):
        assess(one, [[10.0], [-1.0]])
    with pytest.raises(ResponseCriteriaError, match="no lesion is seen at baseline"):
        assess(one, [[0.0], [3.0]])
    with pytest.raises(ResponseCriteriaError, match="WHO sums products"):
        assess(one, [[10.0], [3.0]], WHO)
    with pytest.raises(ResponseCriteriaError, match="'b' is not one of"):
        local_response(DAYS[:2], one, [[10.0], [3.0]], ["b"])
