#!/usr/bin/env bash
# The recipe of the embedded policy, in stages. Writes
# agents/tinylm/weights/ (or $OUT), which `go build` embeds.
#
#   bash scripts/train-policy.sh      # the shipped weights: stages 1-5, about 55 minutes on 2 cores
#
# Stage 1: demonstrations from the bundled suites (ideal runs and
# critique-refined second attempts), supervised fine-tuning of the tiny
# model from random weights (context 640, embeddings of each position's
# PREV=3 previous tokens). Stage 2: the stage-1 policy runs Reagent-C on
# the arith and lookup training splits with every first answer refined, so
# the judge's real critiques are recorded; the context grows to 1,024
# tokens and the model is fine-tuned on a mix that teaches both directions
# (keep a right answer under a positive critique, fix a wrong one under a
# negative one) and repeats the lookup and web runs (scripts/policy_mix.py).
# Stage 3: the same mix again at a lower learning rate. Stage 4, the
# critique stage: the judge's own critiques of the policy's arith2 answers
# (scripts/critique_mix.py). Stage 5: the copy drills (scripts/drill_mix.py)
# with the context grown to CONTEXT5=2,048 tokens, so that whole web runs,
# FENCE5 of them with their observations fenced as the demo's guard fences
# them, fit and are trained on.
#
# Every stage's step count, learning rate and wall-time cap (MINUTES*, far
# above what the stages take with torch 2.x from PyPI) can be set; setting
# STEPS3, STEPS4 or STEPS5 to 0 skips that stage. Other starting points:
#
#   STAGE1=DIR bash scripts/train-policy.sh         # stages 2-5 from a stage-1 model folder
#   STAGE1_COMMIT=C bash scripts/train-policy.sh    # stages 2-5 from the weights of commit C
#   FROM=DIR bash scripts/train-policy.sh           # stage 5 only, from a model folder
#   FROM_COMMIT=C bash scripts/train-policy.sh      # stage 5 only, from the weights of commit C
#
# docs/RESULTS.md records the recipes of earlier weights (one previous-token
# embedding, stages 1-4 of commit 8d9c0e1) and of variants measured and not
# shipped (NLAYER=3; stage 5 at 1,024 tokens; FENCE5=0.7), with their
# figures.
#
# Stage 2 needs Chromium for the web demonstrations (as `reagent demos
# --suites web` does) and torch for the backend ($REAGENT_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-agents/tinylm/weights}
MINUTES=${MINUTES:-400}
STEPS=${STEPS:-2100}
NLAYER=${NLAYER:-2} # stage 1's layers (the shipped policy: 2)
PREV=${PREV:-3}     # stage 1's previous-token embeddings (prev_tokens; the shipped policy: 3)
STAGE1=${STAGE1:-}
STAGE1_COMMIT=${STAGE1_COMMIT:-}
MINUTES2=${MINUTES2:-400}
STEPS2=${STEPS2:-4400}
LR2=${LR2:-1e-3}
THREADS2=${THREADS2:-1}
STOP2=${STOP2:-0}
STEPS3=${STEPS3:-1000}
LR3=${LR3:-3e-4}
MINUTES3=${MINUTES3:-400}
STEPS4=${STEPS4:-1500}
LR4=${LR4:-5e-4}
MINUTES4=${MINUTES4:-400}
SEEDS4=${SEEDS4:-1 2 3 4 5}
FROM=${FROM:-}
FROM_COMMIT=${FROM_COMMIT:-}
STEPS5=${STEPS5:-2600}
LR5=${LR5:-7e-4}
MINUTES5=${MINUTES5:-200}
SEEDS5=${SEEDS5:-1 2 3 4 5}
REPLAY5=${REPLAY5:-1}
CONTEXT5=${CONTEXT5:-2048} # stage 5's context in tokens (0: the model's own)
FENCE5=${FENCE5:-0.35}  # stage 5's share of renamed web and lookup runs with fenced observations
PY=${REAGENT_PYTHON:-python3}
WORK=$(mktemp -d /tmp/reagent-policy-XXXX)
BIN=$WORK/reagent
PORT=${PORT:-18092}
go build -o "$BIN" ./cmd/reagent

# arith2_critiques DIR SEED...: the model so far ($WORK/model) runs
# Reagent-C on the arith2 training split for each seed, sampling at 0.7,
# with every first answer refined, so the heuristic judge's own critiques
# are recorded: $WORK/DIR/crit-S.jsonl (the runs) and demos-S.jsonl (the
# ideal runs), as scripts/critique_mix.py and scripts/drill_mix.py read them.
arith2_critiques() {
	local dir=$WORK/$1
	shift
	"$BIN" serve-model --model "$WORK/model" --addr "127.0.0.1:$PORT" >"$dir.serve.log" 2>&1 &
	serve=$!
	trap 'kill $serve 2>/dev/null || true' EXIT
	for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.2; done
	mkdir -p "$dir"
	for seed in "$@"; do
		"$BIN" eval --suite arith2 --split train --seed "$seed" --strategy c --refine-below 2 --base-url "http://127.0.0.1:$PORT/v1" \
			--model tiny --temperature 0.7 --max-steps 4 --max-tokens 160 --concurrency 2 --json --db "$dir/crit-$seed.db" >"$dir/crit-$seed.json"
		"$BIN" audit export --db "$dir/crit-$seed.db" --out "$dir/crit-$seed.jsonl"
		"$BIN" demos --suites arith2 --seed "$seed" --out "$dir/demos-$seed.jsonl"
	done
	kill $serve 2>/dev/null || true
}

if [ -n "$FROM_COMMIT" ]; then
	FROM=$WORK/from
	mkdir -p "$FROM"
	for f in model.safetensors config.json; do git show "$FROM_COMMIT:agents/tinylm/weights/$f" >"$FROM/$f"; done
fi
if [ -n "$FROM" ]; then
	# Stages 1-4 skipped: the model so far is FROM; the demonstrations
	# stage 5 reads are made here.
	mkdir -p "$WORK/model"
	cp "$FROM/model.safetensors" "$FROM/config.json" "$WORK/model/"
	"$BIN" demos --suites arith --count 3000 --seed 7 --out "$WORK/arith.jsonl"
	"$BIN" demos --suites arith,lookup --out "$WORK/suites.jsonl"
	"$BIN" demos --suites web --out "$WORK/web.jsonl"
else
if [ -n "$STAGE1_COMMIT" ]; then
	STAGE1=$WORK/stage1
	mkdir -p "$STAGE1"
	for f in model.safetensors config.json; do git show "$STAGE1_COMMIT:agents/tinylm/weights/$f" >"$STAGE1/$f"; done
fi
if [ -z "$STAGE1" ]; then
STAGE1=$WORK/stage1

# The ideal and the critique-refined run of 3,000 arith tasks, and of every
# training task of arith and lookup.
"$BIN" demos --suites arith --count 3000 --seed 7 --out "$WORK/arith.jsonl"
"$BIN" demos --suites arith,lookup --out "$WORK/suites.jsonl"
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
(cd ppo/backend && "$PY" -m reagent_backend.sft --data "$WORK/sft.jsonl" --out "$STAGE1" \
	--steps "$STEPS" --minutes "$MINUTES" --batch 8 --lr 3e-3 --warmup 30 \
	--d-model 96 --n-layer "$NLAYER" --n-head 4 --max-seq 640 --prev-tokens "$PREV" --threads 1 --log "$WORK/sft-log.jsonl")
else
"$BIN" demos --suites arith --count 3000 --seed 7 --out "$WORK/arith.jsonl"
"$BIN" demos --suites arith,lookup --out "$WORK/suites.jsonl"
fi
STAGE1=$(cd "$STAGE1" && pwd)

# Stage 2. The judge's critiques of the stage-1 policy's own first answers
# (greedy, every answer refined), as the agent is shown them.
"$BIN" demos --suites web --out "$WORK/web.jsonl"
"$BIN" serve-model --model "$STAGE1" --addr "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.2; done
for s in arith lookup; do
	"$BIN" eval --suite $s --split train --strategy c --refine-below 2 --base-url "http://127.0.0.1:$PORT/v1" --model tiny \
		--temperature 0.01 --max-steps 4 --max-tokens 160 --concurrency 2 --json --db "$WORK/crit-$s.db" >"$WORK/crit-$s.json"
	"$BIN" audit export --db "$WORK/crit-$s.db" --out "$WORK/crit-$s.jsonl"
done
kill $serve 2>/dev/null || true
python3 scripts/policy_mix.py "$WORK"
mv "$WORK/sft.jsonl" "$WORK/sft2.jsonl"
# One thread (0.45 s a step on the 2-core machine shared by six others:
# the model is too small for a second thread to pay). --minutes caps the
# wall time; STOP2 repeats a run that the cap cut short (the schedule still
# spans STEPS2).
(cd ppo/backend && "$PY" -m reagent_backend.sft --data "$WORK/sft2.jsonl" --out "$WORK/model" --init "$STAGE1" \
	--extend-context 1024 --steps "$STEPS2" --minutes "$MINUTES2" --stop-at "$STOP2" --batch 8 --lr "$LR2" --warmup 30 --threads "$THREADS2" \
	--log "$WORK/sft2-log.jsonl")
# Stage 3 (optional, STEPS3 > 0): the same mix once more from the stage-2
# model at a lower learning rate (a second cosine schedule, seed 1).
if [ "$STEPS3" -gt 0 ]; then
	(cd ppo/backend && "$PY" -m reagent_backend.sft --data "$WORK/sft2.jsonl" --out "$WORK/model3" --init "$WORK/model" \
		--steps "$STEPS3" --minutes "$MINUTES3" --batch 8 --lr "$LR3" --warmup 10 --threads "$THREADS2" --seed 1 \
		--log "$WORK/sft3-log.jsonl")
	rm -rf "$WORK/model" && mv "$WORK/model3" "$WORK/model"
fi
# Stage 4 (optional, STEPS4 > 0): the critique stage. The model so far runs
# Reagent-C on the arith2 training split (arith reworded, which it fails
# often enough to be critiqued) for each seed of SEEDS4, sampling at 0.7,
# with every first answer refined, so the heuristic judge's own, specific
# critiques ("Your call calculator(...) did not compute the task's
# expression ...") are recorded; scripts/critique_mix.py turns them into fix
# and keep samples (the refined run's head + the ideal run) mixed with 3,000
# lines of the stage-2 mix, and the model is fine-tuned on that.
if [ "$STEPS4" -gt 0 ]; then
	arith2_critiques crit4 $SEEDS4
	python3 scripts/critique_mix.py "$WORK/crit4" "$WORK/sft2.jsonl" "$WORK/sft4.jsonl"
	(cd ppo/backend && "$PY" -m reagent_backend.sft --data "$WORK/sft4.jsonl" --out "$WORK/model4" --init "$WORK/model" \
		--steps "$STEPS4" --minutes "$MINUTES4" --batch 8 --lr "$LR4" --warmup 20 --threads "$THREADS2" --seed 2 \
		--log "$WORK/sft4-log.jsonl")
	rm -rf "$WORK/model" && mv "$WORK/model4" "$WORK/model"
fi
fi # stages 1-4
# Stage 5 (optional, STEPS5 > 0): the copy drills (scripts/drill_mix.py).
# The model so far runs Reagent-C on the arith2 training split for each
# seed of SEEDS5 as in stage 4 (the critique replay), then is fine-tuned on
# drills that make it copy the web site's address from its prompt at any
# host (the demo's metadata lure included), link texts, ids and answers from
# its observations (made-up names, some observations fenced as the demo's
# guard fences them), with arith, lookup and critique replay.
if [ "$STEPS5" -gt 0 ]; then
	arith2_critiques crit5 $SEEDS5
	python3 scripts/drill_mix.py "$WORK" "$WORK/sft5.jsonl" "$REPLAY5" "$FENCE5"
	ctx5=()
	[ "$CONTEXT5" -gt 0 ] && ctx5=(--extend-context "$CONTEXT5")
	(cd ppo/backend && "$PY" -m reagent_backend.sft --data "$WORK/sft5.jsonl" --out "$WORK/model5" --init "$WORK/model" "${ctx5[@]}" \
		--steps "$STEPS5" --minutes "$MINUTES5" --batch 8 --lr "$LR5" --warmup 20 --threads "$THREADS2" --seed 3 \
		--log "$WORK/sft5-log.jsonl")
	rm -rf "$WORK/model" && mv "$WORK/model5" "$WORK/model"
fi
mkdir -p "$OUT"
cp "$WORK/model/model.safetensors" "$WORK/model/config.json" "$OUT/"
echo "policy written to $OUT (training logs: $WORK/sft-log.jsonl, $WORK/sft2-log.jsonl)"
