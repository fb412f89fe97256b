#!/usr/bin/env bash
# The recipe of the embedded policy: demonstrations from the bundled suites
# (ideal runs and critique-refined second attempts), then supervised
# fine-tuning of the tiny model with Debian's CPU torch. Writes
# agents/tinylm/weights/ (or $OUT), which `go build` embeds.
#
#   bash scripts/train-policy.sh            # about 60 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-agents/tinylm/weights}
MINUTES=${MINUTES:-58}
STEPS=${STEPS:-2100}
WORK=$(mktemp -d /tmp/reagent-policy-XXXX)

# The ideal and the critique-refined run of 3,000 arith tasks, and of every
# training task of arith and lookup.
go run ./cmd/reagent demos --suites arith --count 3000 --seed 7 --out "$WORK/arith.jsonl"
go run ./cmd/reagent demos --suites arith,lookup --out "$WORK/suites.jsonl"
# Every ideal arith run, 1,000 refined ones (enough for Reagent-C's prompt
# format without drowning the ideal runs), the lookup runs short enough to
# leave room in the 640-token context; shuffled, duplicates dropped.
python3 - "$WORK" <<'EOF'
import json, random, sys
work = sys.argv[1]
rng = random.Random(3)
arith = [json.loads(l) for l in open(work + "/arith.jsonl")]
refined = [a for a in arith if a["kind"] == "refined"]
rng.shuffle(refined)
suites = [json.loads(l) for l in open(work + "/suites.jsonl")]
lookup = [x for x in suites if x["task"].startswith("lookup") and len(json.dumps(x["messages"])) <= 900]
lines = list(dict.fromkeys(json.dumps(x, sort_keys=True) for x in [a for a in arith if a["kind"] == "ideal"] + refined[:1000] + lookup))
rng.shuffle(lines)
with open(work + "/sft.jsonl", "w") as f:
    f.write("\n".join(lines) + "\n")
print("%d samples" % len(lines))
EOF

# One thread: torch gains nothing from the second core on a model
# this small.
(cd ppo/backend && "${REAGENT_PYTHON:-python3}" -m reagent_backend.sft --data "$WORK/sft.jsonl" --out "$WORK/model" \
	--steps "$STEPS" --minutes "$MINUTES" --batch 8 --lr 3e-3 --warmup 30 \
	--d-model 96 --n-layer 2 --n-head 4 --max-seq 640 --prev-token-emb --threads 1 --log "$WORK/sft-log.jsonl")
mkdir -p "$OUT"
cp "$WORK/model/model.safetensors" "$WORK/model/config.json" "$OUT/"
echo "policy written to $OUT (training log: $WORK/sft-log.jsonl)"
