#!/usr/bin/env bash
# Reproduces, on reagent's own suites, the paper's comparison of the
# baseline (rule reward only), Reagent-C (critique and retry, no training),
# Reagent-R (rule + 0.3·RRM score) and Reagent-U (two-stage groups), from
# the same starting checkpoint (the embedded policy), over several seeds.
# Writes the table to docs/paper-table.md (or $RESULTS); docs/RESULTS.md
# quotes it with the reasons.
#
#   bash scripts/paper-table.sh                 # CPU defaults: arith2 and lookup, 3 seeds, 20 iterations (about 15 minutes on 2 cores)
#   SEEDS="1 2 3 4 5" STEPS=20 DEVICE=cuda bash scripts/paper-table.sh
#   INIT=/tmp/policy bash scripts/paper-table.sh   # another starting checkpoint (a tiny model folder)
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-"1 2 3"}
STEPS=${STEPS:-20}         # GRPO iterations per training run
TASKS=${TASKS:-4}          # tasks per iteration
GROUP=${GROUP:-4}          # samples per task (Reagent-U: 2x)
LR=${LR:-5e-4}
TEMP=${TEMP:-0.7}           # sampling temperature of the rollouts
SUITES=${SUITES:-arith2,lookup}
LIMIT=${LIMIT:-30}         # test tasks per suite
DEVICE=${DEVICE:-cpu}
RESULTS=${RESULTS:-docs/paper-table.md}
WORK=${WORK:-$(mktemp -d /tmp/reagent-table-XXXX)}
BIN=$WORK/reagent
PORT=${PORT:-18091}
INIT=${INIT:-}             # the starting checkpoint: a tiny model folder (empty: the embedded policy)

go build -o "$BIN" ./cmd/reagent
echo "work dir: $WORK"

# evaluate NAME STRATEGY [MODEL_DIR]: serve the policy, run reagent eval
# greedily on the test split, keep the JSON summary.
evaluate() {
	local name=$1 strategy=$2 model=${3:-}
	local args=(serve-model --addr "127.0.0.1:$PORT")
	[ -n "$model" ] && args+=(--model "$model")
	"$BIN" "${args[@]}" >"$WORK/serve-$name.log" 2>&1 &
	local pid=$!
	for _ in $(seq 1 50); do
		curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
		sleep 0.2
	done
	"$BIN" eval --suite "$SUITES" --base-url "http://127.0.0.1:$PORT/v1" --model tiny --strategy "$strategy" \
		--limit "$LIMIT" --temperature 0.01 --max-steps 4 --max-tokens 160 --json >"$WORK/eval-$name.json"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

start=$(date +%s)
init=()
[ -n "$INIT" ] && init=(--init "$INIT")
evaluate untouched-baseline baseline "$INIT"
evaluate untouched-c c "$INIT"
for seed in $SEEDS; do
	for strategy in baseline r u; do
		out=$WORK/policy-$strategy-$seed
		"$BIN" train "${init[@]}" --strategy "$strategy" --seed "$seed" --steps "$STEPS" --tasks "$TASKS" --group "$GROUP" \
			--lr "$LR" --temperature "$TEMP" --suites "$SUITES" --device "$DEVICE" --out "$out" --metrics "$WORK/train-$strategy-$seed.jsonl" \
			>"$WORK/train-$strategy-$seed.log" 2>&1
		evaluate "$strategy-$seed" baseline "$out"
	done
done
elapsed=$(( $(date +%s) - start ))

python3 - "$WORK" "$RESULTS" "$elapsed" "$SEEDS" "$STEPS" "$TASKS" "$GROUP" "$LR" "$SUITES" "$LIMIT" "$DEVICE" "$TEMP" "$INIT" <<'PY'
import json, statistics, sys, platform, os, glob
work, results, elapsed, seeds, steps, tasks, group, lr, suites, limit, device, temp, init = sys.argv[1:]
def rows(name):
    with open(os.path.join(work, "eval-%s.json" % name)) as f:
        return {r["suite"]: r for r in json.load(f)["rows"]}
def rate(r):
    return r["final_success"]
suite_names = suites.split(",")
arms = [("Baseline (rule reward only)", ["baseline-%s" % s for s in seeds.split()]),
        ("Reagent-C (untouched policy, one critique round)", ["untouched-c"]),
        ("Reagent-R (rule + 0.3 x RRM score)", ["r-%s" % s for s in seeds.split()]),
        ("Reagent-U (two-stage groups)", ["u-%s" % s for s in seeds.split()])]
lines = ["# Results: the paper's comparison on reagent's suites", "",
         "Success rate (rule reward = 1) on the test split, greedy decoding, the heuristic RRM as judge.",
         "Every trained arm starts from %s; mean ± standard deviation over seeds %s (each seed's figure in parentheses)." % (init or "the embedded policy", seeds), "",
         "| arm | " + " | ".join(suite_names) + " |", "|---|" + "---|" * len(suite_names)]
untouched = rows("untouched-baseline")
lines.append("| Untouched policy (no training) | " + " | ".join("%.1f%%" % (100 * rate(untouched[s])) if s in untouched else "-" for s in suite_names) + " |")
for label, names in arms:
    cells = []
    for s in suite_names:
        vals = [100 * rate(rows(n)[s]) for n in names if s in rows(n)]
        if not vals:
            cells.append("-")
        elif len(vals) == 1:
            cells.append("%.1f%%" % vals[0])
        else:
            cells.append("%.1f ± %.1f%% (%s)" % (statistics.mean(vals), statistics.stdev(vals), ", ".join("%.1f" % v for v in vals)))
    lines.append("| %s | %s |" % (label, " | ".join(cells)))
lines += ["", "Settings: %s GRPO iterations x %s tasks x group %s (Reagent-U: 2 x %s), lr %s, sampling temperature %s,"
          " top-p 0.95, at most 4 agent steps; %s test tasks per suite; device %s." % (steps, tasks, group, group, lr, temp, limit, device),
          "Machine: %s, %d CPUs; wall time %.1f minutes." % (platform.platform(), os.cpu_count(), int(elapsed) / 60), "",
          "Command: `%sSEEDS=\"%s\" STEPS=%s TASKS=%s GROUP=%s LR=%s TEMP=%s SUITES=%s LIMIT=%s DEVICE=%s bash scripts/paper-table.sh`"
          % ("INIT=%s " % init if init else "", seeds, steps, tasks, group, lr, temp, suites, limit, device)]
with open(results, "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
