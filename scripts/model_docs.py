"""Write the model pages: docs/models/<name>.md and docs/models/img/<name>.png.

Each page is generated from the library's Model object (equations, states, parameter table
with units, bounds and sources), the library module's docstring (the published equations,
assumptions and departures) and a simulation of the model's reference scenario.

Run from anywhere: ``.venv/bin/python scripts/model_docs.py``. Pages are overwritten;
edit the model module or this script, not the pages.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from il2sim import (  # noqa: E402
    Depot,
    Infusion,
    Model,
    Regimen,
    Schedule,
    get_model,
    presets,
    simulate,
)
from il2sim.model.library.il2_qsp import default_components  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "models"
IMG = DOCS / "img"

Scenario = Callable[[Figure], str]


@dataclass(frozen=True)
class Page:
    """One model page: registry name, library module and reference scenario."""

    name: str
    module: str
    scenario: Scenario
    variants: tuple[str, ...] = ()


# ------------------------------------------------------------------ scenarios


def _cells_axis(ax: Axes, title: str, *, floor: float = 1e-2) -> None:
    top = max(float(np.nanmax(np.asarray(line.get_ydata(), dtype=float)))
              for line in ax.get_lines())
    ax.set_yscale("log")
    ax.set_ylim(floor, 10 * top)
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def kp1998_scenario(fig: Figure) -> str:
    model = get_model("kp1998")
    times = np.linspace(0, 1000, 2001)
    cs = {5e-5: "c = 5e-5 (escape)", 0.02: "c = 0.02 (oscillation)",
          0.035: "c = 0.035 (dormancy, default)"}
    r = simulate(model, None, params={"c": list(cs)}, times=times, rtol=1e-8, atol=1e-8)
    ax1, ax2 = fig.subplots(1, 2)
    for i, label in enumerate(cs.values()):
        ax1.plot(times, r["T"][i], label=label)
        ax2.plot(times, r["E"][i], label=label)
    _cells_axis(ax1, "tumour T (cells)")
    _cells_axis(ax2, "effector cells E")
    for ax in (ax1, ax2):
        ax.set_xlabel("day")
    return ("Untreated, from E = 1, T = 1e5, IL = 1, for three antigenicities c: escape to "
            "carrying capacity, sustained oscillation with deep crashes, dormancy. Dotted: "
            "1 cell; values below 1e-2 are off the plot.")


def aldesleukin_pk_scenario(fig: Figure) -> str:
    model = get_model("aldesleukin_pk")
    times = np.linspace(0, 12 * 60, 721)
    iv = Regimen.of(Infusion(amount="600000 IU/kg", duration="15 min", route="iv"),
                    Schedule(at=["0 h"]))
    sc = Regimen.of(Depot("18 MIU", route="sc"), Schedule(at=["0 h"]))
    ax = fig.subplots()
    for regimen, label in ((iv, "IV 600,000 IU/kg over 15 min (70 kg)"),
                           (sc, "SC 18 MIU")):
        r = simulate(model, regimen, times=times, covariates={"weight": 70.0, "height": 175.0},
                     rtol=1e-8, atol=1e-6)
        ax.plot(times / 60, r["C_plasma"][0], label=label)
    ax.set_yscale("log")
    ax.set_ylim(1e-1, 2e4)
    ax.set_xlabel("hour")
    ax.set_ylabel("plasma IL-2 (IU/mL)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ("Plasma concentration after the label's high-dose IV infusion (600,000 IU/kg, "
            "70 kg) and after an 18 MIU subcutaneous injection.")


def _dp06_weak(model: Model, factor: float, tumour: float) -> dict[str, float]:
    x0 = model.initial_state
    return {"T": tumour, **{k: x0[k] * factor for k in ("N", "L", "C")}}


def _dp06_chemo(every: int) -> Regimen:
    return Regimen.of(Infusion(rate="5 arb/day", duration="1 day", route="chemo"),
                      Schedule(every=f"{every} day", count=90 // every))


def _dp06_immuno() -> Regimen:
    til = Regimen.of(Infusion(rate="1e9 cell/day", duration="1 day", route="cells"),
                     Schedule(at=["7 day"]))
    il2 = Regimen.of(Infusion(rate="5e6 IU/L/day", duration="0.45 day", route="il2"),
                     Schedule(every="0.7 day", count=6, start="8 day"))
    return til + il2


def depillis2006_scenario(fig: Figure) -> str:
    model = get_model("depillis2006")
    times = np.linspace(0, 150, 601)
    axes = fig.subplots(1, 3)
    runs = [
        (axes[0], None, {"T": 1e6}, "strong immune system"),
        (axes[0], None, _dp06_weak(model, 1e-2, 1e6), "weak (1 %)"),
        (axes[1], None, {"T": 1e8}, "untreated"),
        (axes[1], _dp06_chemo(10), {"T": 1e8}, "chemo every 10 days"),
        (axes[1], _dp06_chemo(5), {"T": 1e8}, "chemo every 5 days"),
        (axes[2], _dp06_chemo(10), _dp06_weak(model, 0.1, 1e7), "chemo every 10 days"),
        (axes[2], _dp06_immuno(), _dp06_weak(model, 0.1, 1e7), "TIL + IL-2"),
        (axes[2], _dp06_chemo(10) + _dp06_immuno(), _dp06_weak(model, 0.1, 1e7),
         "both"),
    ]
    for ax, regimen, initial, label in runs:
        r = simulate(model, regimen, initial=initial, times=times, rtol=1e-8, atol=1e-8)
        ax.plot(times, r["T"][0], label=label)
    titles = ("untreated, T0 = 1e6", "strong immune system, T0 = 1e8",
              "weak (10 %) immune system, T0 = 1e7")
    for ax, title in zip(axes, titles):
        _cells_axis(ax, title)
        ax.set_xlabel("day")
    axes[0].set_ylabel("tumour cells")
    return ("Patient 9, the three published results: (left) a strong immune system "
            "suppresses the tumour, a weak one lets it grow to carrying capacity; (middle) "
            "1-day chemotherapy pulses every 5 days clear a tumour that pulses every 10 days "
            "do not; (right) chemotherapy plus TIL + IL-2 clears a tumour that neither "
            "clears alone. Scenarios as in tests/model/test_depillis2006.py. Dotted: 1 cell.")


def _dp09_file_form(model: Model) -> Model:
    equations = dict(model.equations)
    equations["L"] = equations["L"].replace("-theta*m*L/(theta + I)", "-phi*m*L/(phi + I)")
    file = Model("depillis2009_file", model.title, model.citation, model.time_unit,
                 model.states, model.params, equations, model.inputs, model.intermediates,
                 model.observables, model.routes)
    return file.with_params(d=0.0, l=0.0, s=0.0)


def depillis2009_scenario(fig: Figure) -> str:
    model = get_model("depillis2009")
    times = np.linspace(0, 60, 601)
    axes = fig.subplots(1, 3)
    for m, label in ((model, "paper form (library)"),
                     (_dp09_file_form(model), "BIOMD0000000779 form")):
        r = simulate(m, None, times=times, rtol=1e-10, atol=1e-10)
        axes[0].plot(times, r["T"][0], label=label)
        axes[1].plot(times, r["L"][0], label=label)
        axes[2].plot(times, r["I"][0], label=label)
    axes[0].set_yscale("log")
    axes[0].set_title("tumour T (cells)", fontsize=10)
    axes[1].set_title("CD8+ T cells L (cells/L)", fontsize=10)
    axes[2].set_title("IL-2 I (IU/L)", fontsize=10)
    for ax in axes:
        ax.set_xlabel("day")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return ("Untreated, from the curated file's initial state. The paper's CD8+ kill term "
            "(d = 2.34, l = 2.09, s = 3.8e-3) slows the tumour early on; the file (d = l = "
            "s = 0) has no CD8+ killing. Both reach carrying capacity within a month.")


def fallon2000_scenario(fig: Figure) -> str:
    times = np.linspace(0, 3 * 1440, 289)
    axes = fig.subplots(1, 3)
    for name, label in (("fallon2000", "IL-2"), ("fallon2000_2d1", "2D1")):
        r = simulate(get_model(name), None, initial={"L": 10.0}, times=times, rtol=1e-8,
                     atol=1e-8)
        hours = times / 60
        axes[0].plot(hours, r["L"][0], label=label)
        axes[1].plot(hours, r["Cs"][0], label=label)
        axes[2].plot(hours, r["Y"][0], label=label)
    axes[0].set_title("medium ligand L (pM)", fontsize=10)
    axes[1].set_title("surface complexes Cs (per cell)", fontsize=10)
    axes[2].set_title("cell density Y (cells/L)", fontsize=10)
    for ax in axes:
        ax.set_xlabel("hour")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return ("IL-2 and its analogue 2D1 at 10 pM in the medium, 2.5e8 cells/L, three days. "
            "2D1 (weaker endosomal binding) drives more proliferation; here it is also "
            "depleted from the medium faster (see tests/model/test_fallon2000.py).")


def il2_qsp_scenario(fig: Figure) -> str:
    model = get_model("il2_qsp")
    hours = np.arange(0.0, 60 * 24 + 1, 1.0)
    regimens = {
        "label high dose (600,000 IU/kg q8h)": presets.label_high_dose(),
        "low dose SC (1 MIU daily x 14)": Regimen.of(Depot("1 MIU"),
                                                     Schedule(every="1 day", count=14)),
        "intratumoral (3 MIU weekly x 4)": presets.intratumoral("3 MIU", "7 day", 4),
    }
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for label, regimen in regimens.items():
        r = simulate(model, regimen, times=hours, covariates={"weight": 70.0},
                     rtol=1e-6, atol=1e-8)
        days = hours / 24
        ax1.plot(days, r["sbp"][0], label=label)
        ax2.plot(days, r["tumour_volume"][0], label=label)
        ax3.plot(days, r["N"][0] / r["N"][0, 0], label=f"NK, {label.split(' (')[0]}")
        color = ax3.lines[-1].get_color()
        ax3.plot(days, r["R"][0] / r["R"][0, 0], ls="--", color=color,
                 label=f"Treg, {label.split(' (')[0]}")
        ax3.plot(days, r["tumour_clone"][0], ls=":", color=color,
                 label=f"tumour-specific clone, {label.split(' (')[0]}")
    ax1.axhline(90, color="0.5", ls=":", lw=0.8)
    ax1.set_ylabel("systolic BP (mmHg)")
    ax2.set_yscale("log")
    ax2.set_ylabel("tumour volume (mL)")
    ax3.set_yscale("log")
    ax3.set_ylabel("fold change of the pool")
    for ax in (ax1, ax2, ax3):
        ax.set_xlabel("day")
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=7)
    ax3.legend(fontsize=6, ncol=1)
    return ("A typical 70 kg patient (default parameters, antigenicity 1) on three regimens: "
            "the label course drops systolic pressure below 90 mmHg (dotted) and recovers; "
            "low-dose SC IL-2 expands Tregs (dashed) more than NK cells (solid), and the "
            "tumour-specific clone (dotted) on every regimen that reaches it; local "
            "injections shrink the injected tumour without systemic leak.")


def il2_hiv_scenario(fig: Figure) -> str:
    model = get_model("il2_hiv")
    days = np.arange(0.0, 3 * 56 + 60, 1.0)
    ax1, ax2 = fig.subplots(1, 2)
    for regimen, label in ((None, "ART alone"),
                           (presets.hiv_subcutaneous_cycles("7.5 MIU", 3),
                            "ART + IL-2 7.5 MIU SC bid, 5 days every 8 weeks")):
        r = simulate(model, regimen, times=days, rtol=1e-8, atol=1e-8)
        ax1.plot(days, r["cd4"][0], label=label)
        ax2.plot(days, r["viral_load"][0], label=label)
    ax1.set_ylabel("CD4 T cells (cells/mm3)")
    ax2.set_yscale("log")
    ax2.set_ylabel("viral load (copies/mL)")
    for ax in (ax1, ax2):
        ax.set_xlabel("day")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return ("On antiretroviral therapy, three IL-2 cycles raise the CD4 count step by step; "
            "the viral load is the same with or without IL-2.")


PAGES = (
    Page("kp1998", "kp1998", kp1998_scenario),
    Page("aldesleukin_pk", "aldesleukin_pk", aldesleukin_pk_scenario),
    Page("depillis2006", "depillis2006", depillis2006_scenario, ("depillis2006_p10",)),
    Page("depillis2009", "depillis2009", depillis2009_scenario),
    Page("fallon2000", "fallon2000", fallon2000_scenario, ("fallon2000_2d1",)),
    Page("il2_qsp", "il2_qsp", il2_qsp_scenario),
    Page("il2_hiv", "il2_hiv", il2_hiv_scenario),
)


# ------------------------------------------------------------------ markdown


def _num(value: float) -> str:
    return "inf" if value == float("inf") else f"{value:.6g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def variants_markdown(model: Model, variants: list[Model]) -> list[str]:
    """Parameters whose values differ between ``model`` and its registry variants."""
    if not variants:
        return []
    names = [p.name for p in model.params
             if any(v.param(p.name).value != p.value for v in variants)]
    lines = ["", "## Variants", "",
             "Registry entries built by the same function with other published values "
             "(only the parameters that differ):", ""]
    lines += _table(
        ["parameter", f"`{model.name}`", *[f"`{v.name}`" for v in variants], "unit"],
        [[f"`{n}`", _num(model.param(n).value),
          *[_num(v.param(n).value) for v in variants], f"`{model.param(n).unit}`"]
         for n in names])
    return lines


def page_markdown(model: Model, module_doc: str, image: str, caption: str,
                  variants: list[Model]) -> str:
    lines = [
        f"# {model.title}",
        "",
        "<!-- Generated by scripts/model_docs.py from the library model; do not edit. -->",
        "",
        f"- registry name: `{model.name}` (`il2sim.get_model(\"{model.name}\")`)",
        f"- time unit: {model.time_unit}",
        f"- citation: {model.citation}",
        "",
        "## Source, assumptions and departures",
        "",
        "From the model module's docstring:",
        "",
        "```text",
        module_doc.strip(),
        "```",
        "",
    ]
    if model.notes:
        lines += [f"Model notes: {model.notes}", ""]
    assumed = [p for p in model.params if p.is_assumption]
    if assumed:
        lines += ["Parameters that no source fixes (assumptions): "
                  + ", ".join(f"`{p.name}`" for p in assumed) + ".", ""]
    lines += ["## Equations as implemented", "", "```text"]
    for item in model.intermediates:
        lines.append(f"{item.name} = {item.expr}")
    for state in model.states:
        lines.append(f"d{state.name}/dt = {model.equations[state.name]}")
    lines += ["```", "", "## States", ""]
    lines += _table(
        ["state", "initial", "unit", "meaning", "integrated as"],
        [[f"`{s.name}`", _num(s.initial), f"`{s.unit}`", _cell(s.meaning),
          "log" if s.log else "linear"] for s in model.states])
    lines += ["", "## Parameters", ""]
    lines += _table(
        ["name", "value", "unit", "bounds", "meaning", "source"],
        [[f"`{p.name}`", _num(p.value), f"`{p.unit}`",
          f"[{_num(p.bounds[0])}, {_num(p.bounds[1])}]", _cell(p.meaning), _cell(p.source)]
         for p in model.params])
    lines += variants_markdown(model, variants)
    if model.inputs or model.routes:
        lines += ["", "## Treatment inputs and dose routes", ""]
        lines += _table(
            ["route", "state", "amount unit", "infusions drive", "meaning"],
            [[f"`{r.name}`", f"`{r.state}`", _cell(r.unit),
              f"`{r.input}`" if r.input else f"d{r.state}/dt directly", _cell(r.meaning)]
             for r in model.routes])
        if model.inputs:
            lines += [""]
            lines += _table(["input", "unit", "meaning"],
                            [[f"`{i.name}`", _cell(i.unit), _cell(i.meaning)]
                             for i in model.inputs])
    if model.observables:
        lines += ["", "## Observables", ""]
        lines += _table(["name", "expression", "unit", "meaning"],
                        [[f"`{o.name}`", f"`{o.expr}`", _cell(o.unit), _cell(o.meaning)]
                         for o in model.observables])
    lines += ["", "## Reference scenario", "", f"![{model.name} reference scenario]({image})",
              "", caption, ""]
    return "\n".join(lines)


def index_markdown(models: list[Model]) -> str:
    lines = ["# Model library", "",
             "<!-- Generated by scripts/model_docs.py; do not edit. -->", ""]
    lines += _table(["model", "title", "time unit", "states", "parameters"],
                    [[f"[`{m.name}`]({m.name}.md)", _cell(m.title), m.time_unit,
                      str(len(m.states)), str(len(m.params))] for m in models])
    return "\n".join(lines) + "\n"


def main() -> int:
    IMG.mkdir(parents=True, exist_ok=True)
    models = []
    for page in PAGES:
        model = get_model(page.name)
        module = importlib.import_module(f"il2sim.model.library.{page.module}")
        fig = plt.figure(figsize=(12, 4.2) if page.name != "aldesleukin_pk" else (7, 4.5),
                         layout="constrained")
        caption = page.scenario(fig)
        fig.suptitle(model.title, fontsize=11)
        image = IMG / f"{page.name}.png"
        fig.savefig(image, dpi=110, metadata={"Software": None})
        plt.close(fig)
        doc = module.__doc__ or ""
        if page.name == "il2_qsp":  # a composed model: each component documents itself
            for part in (c.name for c in default_components()):  # one module per component
                sub = importlib.import_module(f"il2sim.model.library.il2_qsp.{part}")
                doc += f"\n\n--- component {part} ---\n{sub.__doc__ or ''}"
        text = page_markdown(model, doc, f"img/{image.name}", caption,
                             [get_model(v) for v in page.variants])
        (DOCS / f"{page.name}.md").write_text(text, encoding="utf-8")
        models.append(model)
        print(f"wrote {(DOCS / (page.name + '.md')).relative_to(REPO)} and "
              f"{image.relative_to(REPO)}")
    (DOCS / "README.md").write_text(index_markdown(models), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
