#!/usr/bin/env bash
# The recipe of the embedded policy: demonstrations from the bundled suites
# (ideal runs and critique-refined second attempts), then supervised
# fine-tuning of the tiny model with Debian's CPU torch. Writes
# agents/tinylm/weights/ (or $OUT), which `go build` embeds.
#
#   bash scripts/train-policy.sh            # about 45 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-agents/tinylm/weights}
MINUTES=${MINUTES:-45}
STEPS=${STEPS:-700}
WORK=$(mktemp -d /tmp/reagent-policy-XXXX)

go run ./cmd/reagent demos --suites arith,lookup --out "$WORK/suites.jsonl"
go run ./cmd/reagent demos --suites arith --count 1500 --seed 7 --out "$WORK/arith.jsonl"
# Keep samples that fit the model's context comfortably (512 tokens).
cat "$WORK/suites.jsonl" "$WORK/arith.jsonl" | sort -u | python3 -c '
import json, sys
for line in sys.stdin:
    if len(json.dumps(json.loads(line)["messages"])) <= 900:
        sys.stdout.write(line)
' >"$WORK/sft.jsonl"

(cd ppo/backend && /usr/bin/python3 -m reagent_backend.sft --data "$WORK/sft.jsonl" --out "$WORK/model" \
	--steps "$STEPS" --minutes "$MINUTES" --batch 12 --lr 3e-3 --warmup 30 \
	--d-model 96 --n-layer 2 --n-head 4 --max-seq 512 --threads 2 --log "$WORK/sft-log.jsonl")
mkdir -p "$OUT"
cp "$WORK/model/model.safetensors" "$WORK/model/config.json" "$OUT/"
echo "policy written to $OUT (training log: $WORK/sft-log.jsonl)"
