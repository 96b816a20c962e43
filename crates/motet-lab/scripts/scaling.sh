#!/usr/bin/env bash
# Parallel scaling: the lab's parallel models on 1, 2, 4, ... cores.
#
#   crates/motet-lab/scripts/scaling.sh [LAB] [CORES...]
#
# LAB is a built lab (default: target/release/motet-lab); CORES the core
# counts to run on (default: powers of two up to the cores this shell may
# run on, and their count itself). Each count k runs the lab with its
# affinity set to the first k of those cores, so every parallel model
# (motet's work_stealing and per_core, tokio's multi-thread runtime, may)
# starts one worker per allowed core. Prints one JSON line per model and
# workload, each with a "cores" field added, then (on stderr, where
# python3 is present) a table: a row per workload and model, a column
# per core count, each cell the median ms of the runs.
set -euo pipefail

lab=${1:-target/release/motet-lab}
shift || true
# The cores this shell may run on, in order (taskset's list; all of them
# where util-linux is missing).
allowed=()
if command -v taskset >/dev/null; then
    IFS=, read -ra ranges <<<"$(taskset -cp $$ | sed 's/.*: //')"
    for r in "${ranges[@]}"; do
        if [[ $r == *-* ]]; then
            for ((c = ${r%-*}; c <= ${r#*-}; c++)); do allowed+=("$c"); done
        else
            allowed+=("$r")
        fi
    done
else
    for ((c = 0; c < $(nproc); c++)); do allowed+=("$c"); done
fi
total=${#allowed[@]}
if [ $# -gt 0 ]; then
    counts=("$@")
else
    counts=()
    for ((k = 1; k < total; k *= 2)); do counts+=("$k"); done
    counts+=("$total")
fi

# Runs the rest of the line on the first $1 allowed cores.
on_cores() {
    local k=$1
    shift
    if ((k > total)); then
        echo "scaling: $k cores asked, $total allowed" >&2
        return 1
    fi
    local list
    list=$(IFS=,; echo "${allowed[*]:0:k}")
    if command -v taskset >/dev/null; then
        taskset -c "$list" "$@"
    else
        python3 -c 'import os, sys
os.sched_setaffinity(0, [int(c) for c in sys.argv[1].split(",")])
os.execvp(sys.argv[2], sys.argv[2:])' "$list" "$@"
    fi
}

# One workload at one core count: JSON lines with "cores" prepended.
bench() {
    local k=$1
    shift
    on_cores "$k" "$lab" bench "$@" --json | sed "s/^{/{\"cores\":$k,/" ||
        echo "scaling: bench $1 on $k cores exited with status $?" >&2
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for k in "${counts[@]}"; do
    # skynet: a million spawns and joins, the parallel workload. may is
    # left out: it dies at its mapping limit at this size.
    bench "$k" skynet --model green --model async-steal --model async-core --model tokio --repeat 3
    bench "$k" fanout --model green --model async-steal --model async-core --model tokio \
        --model thread-crossbeam --model thread-motet --repeat 3
    # Serial workloads: what idle or stealing workers cost them.
    bench "$k" pingpong --model green --model async-steal --model tokio --model may --n 200000 --repeat 3
    bench "$k" ring --model green --model async-steal --model tokio --model may --repeat 3
    bench "$k" switch --model green --model may --repeat 3
done | tee "$out"

command -v python3 >/dev/null || exit 0
python3 - "$out" >&2 <<'TABLE'
import json, sys
rows, cores = {}, []
for line in open(sys.argv[1]):
    run = json.loads(line)
    if run["cores"] not in cores:
        cores.append(run["cores"])
    cell = f'{run["ms"]:.1f}' if run.get("ok") else "failed"
    rows.setdefault((run["workload"], run["model"]), {})[run["cores"]] = cell
print(f'{"workload":<10}{"model":<18}' + "".join(f"{k:>10}" for k in cores))
for (workload, model), cells in rows.items():
    print(f"{workload:<10}{model:<18}" + "".join(f'{cells.get(k, "-"):>10}' for k in cores))
TABLE
