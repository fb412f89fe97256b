#!/usr/bin/env bash
# Builds the injection detector's data sets from pinned PyPI wheels, one npm package and the
# project's own samples, trains the classifier into
# guardrails/injectclf/model.bin, and prints its held-out evaluation (rules
# alone, classifier alone, the two combined; by family, language and source).
#
#   bash scripts/train-injection.sh [DATA_DIR]      # default .cache/injection-data
#
# Deterministic: the same wheels and code give the same model.bin (five
# averaged training runs; 27 s wall on a shared 2-core machine once the
# wheels are downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-.cache/injection-data}
python3 scripts/injectdata/build.py --out "$data"
nice -n 10 go run ./guardrails/injectclf/cmd/train-injection -data "$data" -out guardrails/injectclf/model.bin
