#!/usr/bin/env bash
# Set up (if needed) and run the main job: the aldesleukin label course and KP98 under
# adoptive cell transfer, written to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/il2sim simulate examples/pk_label_course.toml --out out
.venv/bin/il2sim simulate examples/kp1998_adoptive.toml --out out
echo "main job done: see out/"
