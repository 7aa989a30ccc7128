// il2sim web: a small single-page app over the JSON API (/openapi.json).
// Views are chosen by the URL hash: #/models, #/models/NAME, #/scenario, #/trials,
// #/results, #/results/RUN, #/compare/RUN,RUN, #/validation, #/validation/RUN. Everything the page shows comes from /api.
"use strict";

const view = () => document.getElementById("view");

// ------------------------------------------------------------------ helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : `${response.status} ${response.statusText}`;
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return body;
}

function errorBox(message) {
  return el("div", { class: "error", role: "alert", "data-testid": "error" }, message);
}

function table(rows, columns, testid) {
  const head = el("tr", {}, columns.map((c) => el("th", {}, c.title || c.key)));
  const body = rows.map((r) => el("tr", {}, columns.map((c) => {
    const v = c.render ? c.render(r) : r[c.key];
    const cls = typeof r[c.key] === "number" ? "num" : null;
    return el("td", { class: cls }, v === null || v === undefined ? "" : v);
  })));
  // in its own scrolling box: a wide table never widens the page (phones)
  return el("div", { class: "scroll" },
    el("table", { "data-testid": testid }, el("thead", {}, head), el("tbody", {}, body)));
}

// a table whose cells may break anywhere (run ids, intervals): it fits a phone's width
function fitted(box) {
  box.classList.add("fit");
  return box;
}

function fmt(x) {
  if (x === null || x === undefined) return "";
  if (typeof x !== "number") return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e5 || a < 1e-3 ? x.toExponential(3) : String(+x.toPrecision(4));
}

async function show(render) {
  const root = view();
  root.replaceChildren(el("p", { class: "muted" }, "Loading..."));
  try {
    const content = await render();
    // a view may leave out a part (null): never print it as the text "null"
    root.replaceChildren(...[content].flat(Infinity).filter((c) => c !== null && c !== undefined));
  } catch (e) {
    root.replaceChildren(errorBox(e.message));
  }
}

// ------------------------------------------------------------------- models

async function modelsView() {
  const models = await api("/api/models");
  return [
    el("h1", {}, "Models"),
    el("p", { class: "muted" }, "Every parameter carries its unit and source. Choose a model."),
    table(models, [
      { key: "name", render: (m) => el("a", { href: `#/models/${m.name}` }, m.name) },
      { key: "title" }, { key: "citation" },
      { key: "n_states", title: "states" }, { key: "n_params", title: "parameters" },
      { key: "routes", render: (m) => m.routes.join(", ") },
    ], "models-table"),
  ];
}

async function modelView(name) {
  const m = await api(`/api/models/${encodeURIComponent(name)}`);
  return [
    el("h1", {}, `${m.name}: ${m.title}`),
    el("p", {}, m.citation),
    m.notes ? el("p", { class: "muted notes" }, m.notes) : null,
    el("div", { class: "actions" },
      el("a", { href: `#/scenario?model=${m.name}` }, "Simulate this model")),
    el("h2", {}, `Equations (time in ${m.time_unit})`),
    mathBlock(m.mathml),
    el("details", {}, el("summary", {}, "as text"),
      el("pre", { "data-testid": "equations" }, m.equations.join("\n"))),
    el("h2", {}, "Parameters"),
    table(m.params, [{ key: "name" }, { key: "value", render: (p) => fmt(p.value) },
      { key: "unit" }, { key: "meaning" }, { key: "source" },
      { key: "bounds", render: (p) => `${fmt(p.lower)} - ${p.upper === null ? "inf" : fmt(p.upper)}` }],
    "params-table"),
    el("h2", {}, "States, observables and dose routes"),
    table(m.variables, [{ key: "name" }, { key: "kind" }, { key: "unit" }, { key: "meaning" },
      { key: "expression" }], "variables-table"),
  ];
}

function mathBlock(items) {
  // MathML printed by SymPy on the server from the model's own equations
  const box = el("div", { class: "equations", "data-testid": "mathml" });
  box.innerHTML = items.join("");
  return box;
}

// ----------------------------------------------------------------- scenario

let presetCache = null;

async function scenarioView(query) {
  const [models, presets] = await Promise.all([api("/api/models"),
    presetCache ? Promise.resolve(presetCache) : api("/api/presets")]);
  presetCache = presets;
  const chosen = query.get("model") || "il2_qsp";
  const modelSel = el("select", { name: "model", "data-testid": "model" },
    models.map((m) => el("option", { value: m.name, selected: m.name === chosen }, m.name)));
  const regimenSel = el("select", { name: "regimen", "data-testid": "regimen" },
    el("option", { value: "none" }, "no treatment"),
    el("option", { value: "label_course", selected: chosen === "il2_qsp" },
      "label course with hold rules (il2_qsp)"),
    presets.map((p) => el("option", { value: `preset:${p.name}`,
      selected: chosen !== "il2_qsp" && p.name === "label_high_dose" }, `preset: ${p.name}`)),
    el("option", { value: "toml" }, "custom (TOML)"));
  const args = el("div", { class: "wide", "data-testid": "regimen-args" });
  const field = (label, name, value, extra = {}) => el("label", {}, label,
    el("input", { name, value, "data-testid": name, ...extra }));
  const form = el("form", { class: "grid", "data-testid": "scenario-form" },
    el("label", {}, "Model", modelSel),
    el("label", {}, "Regimen", regimenSel),
    field("Weight", "weight", "70 kg"), field("Height", "height", "175 cm"),
    field("End", "end", "21 day"), field("Output points", "points", "1001",
      { type: "number", min: "2" }),
    el("label", {}, "Backend", el("select", { name: "backend" },
      el("option", { value: "scipy" }, "scipy (reference)"),
      el("option", { value: "native" }, "native (compiled)"))),
    args,
    el("label", { class: "wide" }, "Parameter overrides, one 'name = value' per line, as " +
      "il2sim simulate --set: a number in the model's unit or a quantity ('k10 = 3 1/h')",
      el("textarea", { name: "params", "data-testid": "params", rows: "2" })),
    el("div", { class: "wide actions" },
      el("button", { type: "submit", "data-testid": "run-scenario" }, "Run"),
      el("span", { class: "muted", "data-testid": "scenario-status" })));
  const output = el("div", { "data-testid": "scenario-output" });

  const renderArgs = () => {
    const v = regimenSel.value;
    args.replaceChildren();
    if (v === "label_course") {
      args.append(el("div", { class: "actions" },
        field("Dose", "lc_dose", "600000 IU/kg"),
        field("Courses", "lc_courses", "1", { type: "number", min: "1", max: "5" })),
        el("p", { class: "muted" }, "15-min infusions every 8 h, days 1-5 and 15-19; doses " +
          "are withheld for SBP < 90 mmHg, SpO2 < 90%, confusion, heart rate > 130 and the " +
          "label's relative and absolute criteria."));
    } else if (v.startsWith("preset:")) {
      const p = presets.find((x) => `preset:${x.name}` === v);
      args.append(el("p", { class: "muted" }, p.description),
        el("div", { class: "actions" }, Object.entries(p.arguments).map(([k, d]) =>
          field(k, `arg:${k}`, d))));
    } else if (v === "toml") {
      args.append(el("label", {}, "Regimen in the scenario-file format",
        el("textarea", { name: "toml", "data-testid": "regimen-toml", rows: "6" },
          '# IL-2 subcutaneously on weekdays, with interferon-alpha three times a week\n' +
          '[[regimen]]\npreset = "subcutaneous"\ndose = "9 MIU"\nweeks = 4\n\n' +
          '[[regimen]]\nkind = "depot"\nroute = "ifn_sc"\namount = "6 MIU"\n' +
          'schedule = { weekdays = [1, 3, 5], weeks = 4 }\n')));
    }
  };
  regimenSel.addEventListener("change", renderArgs);
  renderArgs();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const status = form.querySelector("[data-testid=scenario-status]");
    const button = form.querySelector("button[type=submit]");
    const body = scenarioRequest(data, regimenSel.value, presets);
    button.disabled = true;
    status.textContent = "simulating...";
    output.replaceChildren();
    try {
      const result = await api("/api/scenarios", { method: "POST",
        headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      status.textContent = "";
      renderScenario(output, result, body);
    } catch (e) {
      status.textContent = "";
      output.replaceChildren(errorBox(e.message));
    } finally {
      button.disabled = false;
    }
  });
  return [el("h1", {}, "Scenario"),
    el("p", { class: "muted" }, "One patient: a model, a regimen, covariates and parameter " +
      "overrides. Doses given are marked green on the time axis, doses withheld red."),
    form, output];
}

function scenarioRequest(data, regimen, presets) {
  // overrides go to the server as lines, read there as `il2sim simulate --set` reads them
  const assignments = (data.get("params") || "").split("\n").filter((line) => line.trim());
  const body = { model: data.get("model"), weight: data.get("weight") || null,
    height: data.get("height") || null, end: data.get("end"),
    points: Number(data.get("points")), backend: data.get("backend"), assignments, regimen: {} };
  if (regimen === "label_course") {
    body.regimen.label_course = { dose: data.get("lc_dose"), courses: Number(data.get("lc_courses")) };
  } else if (regimen.startsWith("preset:")) {
    const name = regimen.slice(7);
    const preset = presets.find((p) => p.name === name);
    const args = {};
    for (const [k, d] of Object.entries(preset.arguments)) {
      const v = (data.get(`arg:${k}`) || "").trim();
      if (v === "" || v === d) continue;
      args[k] = /^-?\d+$/.test(v) ? Number(v) :
        (d.includes(",") ? v.split(",").map((x) => (/^\s*-?\d+\s*$/.test(x) ? Number(x) : x.trim())) : v);
    }
    body.regimen.preset = name;
    body.regimen.arguments = args;
  } else if (regimen === "toml") {
    body.regimen.toml = data.get("toml");
  }
  return body;
}

async function download(path, body, filename) {
  // a POST answered with a file: saved through a temporary link
  const response = await fetch(path, { method: "POST",
    headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error((await response.json()).detail || response.statusText);
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function renderScenario(output, result, request) {
  const held = result.doses.filter((d) => d.status === "held");
  const message = el("div");
  const downloads = ["trajectories", "doses"].flatMap((name) => ["csv", "parquet"].map((f) =>
    el("button", { type: "button", class: "secondary", "data-testid": `download-${name}-${f}`,
      onclick: () => download(`/api/scenarios/${name}.${f}`, request, `${result.model}-${name}.${f}`)
        .catch((e) => message.replaceChildren(errorBox(e.message))) },
    `${name === "doses" ? "dose log" : name}.${f}`)));
  const head = el("div", { class: "actions" },
    el("strong", { "data-testid": "scenario-result-status",
      class: result.status === "ok" ? "ok" : "held" },
    result.status === "ok" ? "simulated" : `failed: ${result.message}`),
    el("span", { class: "muted" }, `${result.doses.length} doses scheduled, ` +
      `${result.doses.length - held.length} given, ${held.length} withheld`));
  const curated = el("div", { class: "panels" });
  const others = el("div", { class: "panels" });
  output.replaceChildren(head, el("div", { class: "actions" }, "Download:", downloads), message,
    el("pre", {}, result.description), curated,
    el("details", {}, el("summary", {}, "All other variables"), others),
    el("h2", {}, "Dose log"),
    el("p", { class: "muted" }, "Time 0 is day 1, 00:00. Dose: as prescribed; reaching the " +
      "model: after body size and bioavailability."),
    table(result.doses, [
      { key: "when", render: (d) => `day ${d.day} ${d.clock}` }, { key: "label" },
      { key: "route" }, { key: "dose" }, { key: "given", title: "reaching the model" },
      { key: "status", render: (d) => el("span", { class: d.status }, d.status) },
      { key: "reason" }], "dose-log"));
  const curatedCount = result.panels.filter((p) => !p.title.startsWith("Other variables")).length;
  result.panels.forEach((panel, i) => {
    const div = el("div", { class: "panel", "data-testid": "plot" });
    (i < curatedCount || curatedCount === 0 ? curated : others).append(div);
    drawPanel(div, panel, result);
  });
}

const DASHES = ["solid", "dash", "dot", "dashdot"];

function drawPanel(div, panel, result) {
  // later curves drawn thinner and dashed over earlier ones, so none hides another
  const traces = panel.series.map((s, i) => ({ x: result.times, y: s.values,
    name: s.axis === "right" ? `${s.name} (right axis)` : s.name,
    yaxis: s.axis === "right" ? "y3" : "y", mode: "lines",
    line: { width: Math.max(3 - i, 1.5), dash: DASHES[i % DASHES.length] },
    hovertemplate: `${s.name}: %{y:.4g} ${s.unit}<br>t = %{x:.3g}` +
      `<extra>${s.meaning.replace(/</g, "&lt;")}</extra>` }));
  const right = panel.series.filter((s) => s.axis === "right");
  const shapes = result.doses.map((d) => ({ type: "line", xref: "x", yref: "paper",
    x0: d.time, x1: d.time, y0: 0, y1: 0.06,
    line: { color: d.status === "held" ? "#b3261e" : "#1e7b34", width: 1 } }));
  for (const status of ["given", "held"]) {
    const rows = result.doses.filter((d) => d.status === status);
    if (rows.length) {
      traces.push({ x: rows.map((d) => d.time), y: rows.map(() => 0), yaxis: "y2",
        mode: "markers", name: `dose ${status}`, showlegend: true,
        marker: { symbol: "triangle-up", size: 7, color: status === "held" ? "#b3261e" : "#1e7b34" },
        text: rows.map((d) => `${d.label}: ${status}${d.reason ? " (" + d.reason + ")" : ""}`),
        hovertemplate: "%{text}<extra></extra>" });
    }
  }
  const left = panel.series.find((s) => s.axis !== "right");
  const title = panel.subtitle ? `${panel.title}<br><sub>${panel.subtitle}</sub>` : panel.title;
  const layout = { title: { text: title, font: { size: 14 } },
    margin: { l: 60, r: right.length ? 60 : 20, t: right.length ? 60 : 40, b: 100 },
    xaxis: { title: { text: `time (${result.time_unit})` } },
    yaxis: { type: panel.log_y ? "log" : "linear", exponentformat: "power",
      rangemode: panel.from_zero ? "tozero" : "normal",
      title: left ? { text: left.unit, standoff: 4 } : undefined },
    yaxis2: { overlaying: "y", range: [0, 1], visible: false, fixedrange: true },
    shapes, legend: { orientation: "h", y: -0.26, yanchor: "top" }, height: 400 };
  if (right.length) {
    layout.yaxis3 = { overlaying: "y", side: "right", type: panel.log_y_right ? "log" : "linear",
      exponentformat: "power", showgrid: false, tickmode: "auto",
      title: { text: `${right[0].name} (${right[0].unit})` } };
  }
  Plotly.newPlot(div, traces, layout, { responsive: true, displaylogo: false });
}

// ------------------------------------------------------------------- trials

let pollTimer = null;

async function trialsView() {
  const examples = await api("/api/examples");
  const message = el("div");
  const jobsBox = el("div", { "data-testid": "jobs" });
  const start = async (request) => {
    message.replaceChildren();
    try {
      await request();
      refreshJobs(jobsBox);
    } catch (e) {
      message.replaceChildren(errorBox(e.message));
    }
  };
  const exampleForm = el("form", { class: "grid", "data-testid": "example-form" },
    el("label", {}, "Example trial", el("select", { name: "example", "data-testid": "example" },
      examples.map((e) => el("option", { value: e.name }, `${e.name}: ${e.title}`)))),
    el("label", {}, "Patients (optional override)",
      el("input", { name: "n_patients", type: "number", min: "1", "data-testid": "example-patients" })),
    el("div", { class: "wide actions" },
      el("button", { type: "submit", "data-testid": "start-example" }, "Start trial")));
  exampleForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(exampleForm);
    const n = data.get("n_patients");
    start(() => api("/api/trials", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ example: data.get("example"), n_patients: n ? Number(n) : null }) }));
  });
  const uploadForm = el("form", { class: "grid", "data-testid": "upload-form" },
    el("label", {}, "Trial file (TOML, as for 'il2sim trial')",
      el("input", { name: "file", type: "file", accept: ".toml,text/plain", "data-testid": "upload-file" })),
    el("label", {}, "Patients (optional override)",
      el("input", { name: "n_patients", type: "number", min: "1", "data-testid": "upload-patients" })),
    el("div", { class: "wide actions" },
      el("button", { type: "submit", "data-testid": "start-upload" }, "Upload and start")));
  uploadForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(uploadForm);
    if (!data.get("n_patients")) data.delete("n_patients");
    if (!data.get("file") || !data.get("file").name) {
      message.replaceChildren(errorBox("choose a trial file to upload"));
      return;
    }
    start(() => api("/api/trials/upload", { method: "POST", body: data }));
  });
  refreshJobs(jobsBox);
  return [el("h1", {}, "Trials"),
    el("p", { class: "muted" }, "Virtual trials run in the background on the server, one at a " +
      "time; results go to the server's DuckDB store."),
    el("h2", {}, "Start an example"), exampleForm,
    el("h2", {}, "Or upload a trial file"), uploadForm, message,
    el("h2", {}, "Trials started on this server"), jobsBox, await unfinishedBlock()];
}

async function unfinishedBlock() {
  // runs in the store that never finished (a cancelled job, a killed il2sim trial)
  const [stored, jobs] = await Promise.all([api("/api/runs?unfinished=true"), api("/api/trials")]);
  const active = new Set(jobs.filter((j) => j.status === "running" || j.status === "queued")
    .map((j) => j.run_id));
  const runs = stored.filter((r) => !active.has(r.run_id));
  if (!runs.length) return null;
  return el("section", { "data-testid": "unfinished" },
    el("h2", {}, "Unfinished runs in the store"),
    el("p", { class: "muted" }, "Start the same trial file again (same patients and seed) " +
      "to resume one from its stored patients."),
    table(runs, [{ key: "name" }, { key: "status" },
      { key: "patients_done", title: "patients stored", render: (r) => `${r.patients_done} of ${r.n_patients}` },
      { key: "run_id", title: "run" }, { key: "created" }], "unfinished-runs"));
}

async function refreshJobs(box) {
  clearTimeout(pollTimer);
  // every trial the server has started (from any browser), newest first
  const statuses = await api("/api/trials").catch(() => []);
  if (!statuses.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No trials started since the server " +
      "started; finished runs of earlier sessions are on the Results page."));
    return;
  }
  box.replaceChildren(...statuses.map(jobCard));
  if (statuses.some((s) => s.status === "queued" || s.status === "running")) {
    pollTimer = setTimeout(() => { if (box.isConnected) refreshJobs(box); }, 500);
  }
}

function jobCard(job) {
  const cancel = el("button", { class: "secondary", "data-testid": "cancel-job",
    onclick: async () => { await api(`/api/trials/${job.job_id}`, { method: "DELETE" });
      refreshJobs(document.querySelector("[data-testid=jobs]")); } }, "Cancel");
  return el("div", { class: "job", "data-testid": "job", "data-status": job.status },
    el("div", { class: "actions" }, el("strong", {}, job.name),
      el("span", { "data-testid": "job-status" }, job.status),
      el("span", { class: "muted" }, `${job.done} / ${job.total} patients`),
      job.status === "done" ? el("a", { href: `#/results/${job.run_id}`, "data-testid": "open-results" },
        "Open results") : null,
      job.status === "queued" || job.status === "running" ? cancel : null),
    el("progress", { max: String(job.total), value: String(job.done) }),
    job.error ? errorBox(job.error) : null);
}

// ------------------------------------------------------------------ results

async function resultsView() {
  const runs = await api("/api/runs");
  if (!runs.length) {
    return [el("h1", {}, "Results"), el("p", { class: "muted" },
      "No finished runs in the store yet: start one on the Trials page.")];
  }
  const compare = el("button", { "data-testid": "compare", onclick: () => {
    const chosen = [...document.querySelectorAll("input[name=pick]:checked")].map((c) => c.value);
    if (chosen.length < 2) {
      alertBox.replaceChildren(errorBox("tick two or more runs to compare"));
      return;
    }
    location.hash = `#/compare/${chosen.join(",")}`;
  } }, "Compare selected");
  const alertBox = el("div");
  return [el("h1", {}, "Results"),
    table(runs, [
      { key: "pick", title: "", render: (r) => r.kind === "trial" ?
        el("input", { type: "checkbox", name: "pick", value: r.run_id }) : "" },
      { key: "run_id", title: "run", render: (r) => el("a", { href: `#/results/${r.run_id}` }, r.run_id) },
      { key: "name" }, { key: "kind" }, { key: "model" }, { key: "seed" },
      { key: "n_patients", title: "patients" },
      { key: "created" }], "runs-table"),
    el("div", { class: "actions" }, compare), alertBox];
}

async function runView(runId) {
  const r = await api(`/api/runs/${encodeURIComponent(runId)}`);
  const base = `/api/runs/${encodeURIComponent(runId)}`;
  const analyses = analysesBlock(r.analyses);
  if (r.run.kind === "analysis") {
    return [el("h1", {}, r.run.name),
      el("p", { class: "muted" }, `analysis record ${r.run.run_id}, model ${r.run.model}, ` +
        `seed ${r.run.seed}, ${r.run.n_patients} virtual patients per evaluation, ${r.run.created}`),
      el("div", { class: "actions" },
        el("a", { href: `${base}/report.html`, target: "_blank", "data-testid": "report-link" }, "HTML report")),
      analyses];
  }
  return [el("h1", {}, r.run.name),
    el("p", { class: "muted" }, `run ${r.run.run_id}, model ${r.run.model}, seed ${r.run.seed}, ` +
      `${r.run.n_patients} patients, ${r.run.created}`),
    el("div", { class: "actions" },
      el("a", { href: `${base}/report.html`, target: "_blank", "data-testid": "report-link" }, "HTML report"),
      r.tables.map((t) => [el("a", { href: `${base}/tables/${t}.csv`, download: true }, `${t}.csv`),
        el("a", { href: `${base}/tables/${t}.parquet`, download: true }, `${t}.parquet`)])),
    el("h2", {}, "Summary"),
    table(r.summary, [{ key: "measure" }, { key: "value" }], "summary-table"),
    // an HIV trial records no toxicity grades: no empty table
    r.toxicity.length ? [el("h2", {}, "Toxicity"),
      table(r.toxicity, [{ key: "toxicity" }, { key: "n" }, { key: "any_grade_n", title: "any grade" },
        { key: "any_grade", title: "any grade, %", render: (x) => pct(x.any_grade) },
        { key: "grade3_4_n", title: "grade 3-4" },
        { key: "grade3_4", title: "grade 3-4, %", render: (x) => pct(x.grade3_4) }],
      "toxicity-table")] : null,
    el("h2", {}, "Figures"),
    await figuresBlock(base, r.figures),
    analyses,
  ];
}

// figures drawn wide: several panels, a table under them, one row per patient, or
// the only figure of the page (cd4)
const WIDE_FIGURES = new Set(["kaplan_meier", "swimmer", "toxicity", "cd4"]);

async function figuresBlock(base, names) {
  // interactive (Plotly) figures from /plots; a PNG for a figure it does not offer
  const interactive = await api(`${base}/plots`);
  return el("div", { class: "figures" }, names.map((f) => {
    const png = el("a", { href: `${base}/figures/${f}.png`, target: "_blank" }, "PNG");
    if (!interactive[f]) {
      return el("figure", { class: "wide" }, el("img", { src: `${base}/figures/${f}.png`,
        alt: f.replace("_", " "), loading: "lazy", "data-testid": `figure-${f}` }),
      el("figcaption", { class: "muted" }, f.replace("_", " "), " ", png));
    }
    const div = el("div", { class: "plotly-figure", "data-testid": `figure-${f}` });
    const box = el("figure", { class: WIDE_FIGURES.has(f) ? "wide" : null }, div,
      el("figcaption", { class: "muted" }, f.replace("_", " "), " ", png));
    requestAnimationFrame(() => plotFigure(div, interactive[f]));
    return box;
  }));
}

function plotFigure(div, figure) {
  const layout = { ...figure.layout, autosize: true };
  delete layout.width;
  Plotly.newPlot(div, figure.data, layout, { responsive: true, displaylogo: false });
}

function analysesBlock(analyses) {
  if (!analyses.length) return null;
  return el("section", { "data-testid": "analyses" }, el("h2", {}, "Analyses stored with this run"),
    analyses.map((a) => el("div", { class: "analysis", "data-testid": "analysis" },
      el("h3", {}, `${a.kind}: ${a.name}`),
      el("p", { class: "muted" }, `stored ${a.created}`),
      el("details", {}, el("summary", {}, "settings"), el("pre", {}, JSON.stringify(a.params, null, 2))),
      Object.entries(a.tables).map(([name, rows]) => [el("h4", {}, name),
        rows.length ? table(rows, Object.keys(rows[0]).map((k) => ({ key: k,
          render: (row) => fmt(row[k]) })), `analysis-table-${name}`) : el("p", { class: "muted" }, "empty")]),
      el("div", { class: "figures single" }, a.figures.map((url) => el("figure", {},
        el("img", { src: url, alt: `${a.kind} ${a.name}`, loading: "lazy" })))))));
}

// The headline: the calibration set's total, and the checks' total (trials no fit saw).
function validationLead(v) {
  const checks = v.scorecard.find((r) => r.trial === "Checks (not in the total)");
  const counted = v.info.outcomes > 0 || !checks
    ? `${v.info.compatible} of ${v.info.outcomes} published endpoints are compatible with the model` +
      (checks ? `; check trials, which the total leaves out: ${checks.compatible} of ${checks.outcomes}` : "")
    : `Check trials only (no fit saw them): ${checks.compatible} of ${checks.outcomes} published ` +
      "endpoints are compatible with the model";
  return `${counted} (${v.info.replicates} simulated trials per arm at the published size; ${v.info.created}).`;
}

function pct(x) {
  return x === null || x === undefined ? "" : (100 * x).toFixed(1);
}

async function compareView(ids) {
  const query = ids.map((id) => `run=${encodeURIComponent(id)}`).join("&");
  const rows = await api(`/api/compare?${query}`);
  const labels = Object.keys(rows[0].values);
  const figure = await api(`/api/compare/kaplan_meier?${query}`);
  const km = el("div", { class: "plotly-figure", "data-testid": "compare-km" });
  requestAnimationFrame(() => plotFigure(km, figure));
  return [el("h1", {}, "Compare runs"),
    fitted(table(rows, [{ key: "measure" }, ...labels.map((l) =>
      ({ key: l, title: l, render: (r) => r.values[l] }))], "compare-table")),
    el("div", { class: "figures" }, el("figure", { class: "wide" }, km,
      el("figcaption", { class: "muted" }, "survival by run ",
        el("a", { href: `/api/compare/kaplan_meier.png?${query}`, target: "_blank" }, "PNG"))))];
}

// --------------------------------------------------------------- validation

async function validationView(runId) {
  const listed = await api("/api/validations");
  if (!listed.length) {
    return [el("h1", {}, "Validation"), el("p", { class: "muted", "data-testid": "no-validation" },
      "No validation in this store yet. Run `il2sim validate` (all published trials, " +
      "or e.g. `il2sim validate c1 c5`) with this store as --db, then reload.")];
  }
  const id = runId || listed[0].run_id;
  const v = await api(`/api/validations/${encodeURIComponent(id)}`);
  const verdict = (r) => el("span", { class: r.verdict === "compatible" ? "ok" :
    r.verdict === "not simulated" ? "none" : "miss" }, r.verdict + (r.reason ? `: ${r.reason}` : ""));
  const others = listed.length > 1 ? el("p", {}, "Other validations: ", listed.filter((x) => x.run_id !== id)
    .map((x) => [el("a", { href: `#/validation/${x.run_id}` }, `${x.name} (${x.created})`), " "])) : null;
  return [el("h1", {}, "Validation against published trials"),
    el("p", { class: "lead", "data-testid": "validation-score" }, validationLead(v)),
    el("p", { class: "muted" }, `Rule: ${v.rule}.`),
    el("div", { class: "actions" }, el("a", { href: `/api/validations/${encodeURIComponent(id)}/report.html`,
      target: "_blank", "data-testid": "validation-report" }, "HTML report")),
    others,
    el("h2", {}, "Scorecard"),
    table(v.scorecard, [{ key: "trial" },
      { key: "compatible", title: "compatible", render: (r) => `${r.compatible} of ${r.outcomes}` },
      { key: "not_simulated", title: "not simulated" }], "validation-scorecard"),
    el("h2", {}, "Every endpoint, misses first"),
    el("div", { class: "scroll" }, table(v.endpoints, [{ key: "trial" }, { key: "endpoint" }, { key: "arm" },
      { key: "published" }, { key: "simulated", title: "simulated (95% PI)" },
      { key: "verdict", render: verdict }], "validation-endpoints")),
    el("h2", {}, "Figures"),
    el("div", { class: "figures single" }, v.figures.map((url) => el("figure", {},
      el("img", { src: url, alt: decodeURIComponent(url.split("/").pop()).replace(".png", ""),
        loading: "lazy" })))),
  ];
}

// ------------------------------------------------------------------- router

function route() {
  const hash = location.hash || "#/models";
  const [path, search] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search || "");
  document.querySelectorAll("nav a[data-nav]").forEach((a) =>
    a.classList.toggle("active", a.dataset.nav === parts[0] ||
      (a.dataset.nav === "results" && parts[0] === "compare")));
  if (parts[0] === "models" && parts[1]) return show(() => modelView(parts[1]));
  if (parts[0] === "scenario") return show(() => scenarioView(query));
  if (parts[0] === "trials") return show(trialsView);
  if (parts[0] === "validation") return show(() => validationView(parts[1]));
  if (parts[0] === "results" && parts[1]) return show(() => runView(parts[1]));
  if (parts[0] === "results") return show(resultsView);
  if (parts[0] === "compare" && parts[1]) return show(() => compareView(parts[1].split(",")));
  return show(modelsView);
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);
