"""Result tables and figures: units in headers, rounding noise, zero panels, log axes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from il2sim import Bolus, Regimen, Schedule, SimulationResult, simulate
from il2sim.engine.output import LOG_AXIS_DECADES, result_figure, write_outputs
from il2sim.units import header

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
from one_compartment import MODEL, K, V  # noqa: E402


def bolus_result(times: list[float] | None = None) -> SimulationResult:
    return simulate(MODEL, Regimen.of(Bolus("1000 IU"), Schedule(at=["0 h"])),
                    times=times or [0.0, 1.0, 2.0])


def with_values(result: SimulationResult, **values: list[float]) -> SimulationResult:
    """``result`` with some states replaced by the given series (one patient)."""
    states = result.states.copy()
    for name, series in values.items():
        states[0, :, MODEL.state_names.index(name)] = series
    return SimulationResult(result.model, result.times, states, result.observables,
                            result.params, result.status, result.message, result.dose_log,
                            rtol=result.rtol)


def panels(fig: Figure) -> dict[str, str]:
    """Visible panels: variable name -> y scale."""
    return {ax.get_title(loc="left"): ax.get_yscale() for ax in fig.axes if ax.get_visible()}


def test_header_is_name_and_unit() -> None:
    assert header("time", "min") == "time (min)"
    assert header("C_plasma", "IU/mL") == "C_plasma (IU/mL)"
    assert header("F", "1") == "F" and header("x", "") == "x"


def test_files_carry_units_in_their_headers(tmp_path: Path) -> None:
    r = bolus_result()
    paths = write_outputs(r, tmp_path, "bolus", plot=False)
    frame = pd.read_csv(paths["trajectories"])
    assert list(frame.columns) == ["patient", "time (h)", "A (IU)", "A_d (IU)", "C (IU/L)"]
    # C = D/V exp(-k t), exact for a bolus.
    assert frame["C (IU/L)"].iloc[2] == pytest.approx(1000 / V * np.exp(-2 * K), rel=1e-5)
    doses = pd.read_csv(paths["doses"])
    assert {"time (h)", "duration (h)", "amount", "unit"} <= set(doses.columns)
    assert "time" not in doses.columns and "time_h" not in doses.columns


def test_rounding_noise_is_printed_as_zero() -> None:
    """-1.98e-14 against a peak of 650 is below rtol * 650 = 6.5e-4: shown as 0; a real
    small value above the floor is kept."""
    r = with_values(bolus_result(), A=[650.0, -1.98e-14, 1e-3])
    assert r.noise_floor("A") == pytest.approx(650 * r.rtol)
    row = r.summary().set_index("variable").loc["A"]
    assert row["min"] == 0.0 and row["end (median)"] == 1e-3 and row["max"] == 650.0


def test_a_variable_zero_throughout_gets_no_panel() -> None:
    r = bolus_result()  # no SC dose: the depot A_d is zero throughout
    fig = result_figure(r)
    assert set(panels(fig)) == {"A", "C"}
    assert "zero throughout, not drawn: A_d" in fig.get_supxlabel()


def test_log_axis_when_a_concentration_spans_decades() -> None:
    # A bolus decaying over 10 half-lives of k = 0.1/h spans e^-10: 4.3 decades.
    r = bolus_result(list(np.linspace(0.0, 100.0, 11)))
    assert np.log10(r["C"][0, 0] / r["C"][0, -1]) > LOG_AXIS_DECADES
    assert panels(result_figure(r))["C"] == "log"
    # Two decades only: a linear axis.
    short = bolus_result(list(np.linspace(0.0, 40.0, 5)))
    assert np.log10(short["C"][0, 0] / short["C"][0, -1]) < LOG_AXIS_DECADES
    assert panels(result_figure(short))["C"] == "linear"
    # Negative values beyond noise: linear, whatever the span.
    signed = with_values(r, A=[1e4, 1e2, 1.0, -5.0, 1e-3, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4])
    assert panels(result_figure(signed))["A"] == "linear"
    # Negative rounding noise does not keep a decaying series off the log axis.
    noisy = with_values(r, A=[1e4, 1e3, 1e2, 10.0, 1.0, 0.1, -1e-12, 0.1, 0.1, 0.1, 0.1])
    assert panels(result_figure(noisy))["A"] == "log"
    # ... and its noise is left out; a positive series keeps its tiny values (a tumour
    # resolved as a logarithm down to 1e-12 of its peak is not noise).
    assert np.isnan(line(result_figure(noisy), "A")[6])
    tiny = with_values(r, A=[1e4, 1e3, 1e2, 10.0, 1.0, 1e-8, 1e-12, 1e-8, 0.1, 0.1, 0.1])
    assert line(result_figure(tiny), "A")[6] == 1e-12


def line(fig: Figure, name: str) -> np.ndarray:
    ax = next(ax for ax in fig.axes if ax.get_title(loc="left") == name)
    return np.asarray(ax.get_lines()[0].get_ydata(), dtype=float)


def test_result_plot_draws_and_saves(tmp_path: Path) -> None:
    r = bolus_result()
    fig = r.plot(title="a bolus")
    assert isinstance(fig, Figure) and fig.get_suptitle() == "a bolus"
    assert set(panels(fig)) == {"A", "C"}
    path = tmp_path / "bolus.png"
    r.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
