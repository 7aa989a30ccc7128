#!/usr/bin/env bash
# Set up (if needed) and run the main job: the virtual pivotal trial of high-dose IL-2 in
# metastatic renal cell carcinoma (255 patients), stored in il2sim-results.duckdb, with its
# summary printed and its figures written to out/rcc/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/il2sim trial examples/trials/rcc.toml --db il2sim-results.duckdb --out out/rcc
echo "main job done: summary above, figures in out/rcc/, results in il2sim-results.duckdb"
echo "(il2sim results --db il2sim-results.duckdb lists the stored runs)"
