#!/usr/bin/env bash
# Wall time of the default workflow (config/config.yaml) from an empty results/: locally
# (profiles/default, all cores) against the single-node test SLURM through profiles/slurm, once with the
# test's 2-second status polling and once with the profile's own polling. Prints one Markdown table row
# for bench/RESULTS.md and checks that the SLURM runs' results/ equal the local run's byte for byte.
#
#   make bench-cluster            (installs the cluster extra and SLURM first), or
#   PYTHON=.venv/bin/python bash bench/cluster.sh
#
# ANALYSES=1000 (PER_JOB=250) runs instead the generated plan of bench/bench_workflow.py (that many
# analyses, PER_JOB analyses per batch job, targets `tables` and every forest plot as SVG) locally and
# through SLURM with 2-second polling: the analyses reach SLURM as a bounded number of batch jobs.
#
#   ANALYSES=1000 bash bench/cluster.sh
#
# Uses a running test cluster (tests/cluster/slurm.sh start); if none runs, starts one and stops it at
# the end (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
if [[ -z ${PYTHON:-} ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
PYTHON=$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")
export METAPOOL_SLURM_DIR=${METAPOOL_SLURM_DIR:-/tmp/metapool-slurm}
export SLURM_CONF=$METAPOOL_SLURM_DIR/conf/slurm.conf
SLURM_SH=(bash "$ROOT/tests/cluster/slurm.sh")

started=0
WORK=$(mktemp -d /tmp/metapool-bench.XXXXXX)
cleanup() {
    if ((started)); then "${SLURM_SH[@]}" stop; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
if ! "${SLURM_SH[@]}" status | grep -q "^slurmd: running"; then
    "${SLURM_SH[@]}" start
    started=1
fi

copy() {
    mkdir -p "$1"
    cp -r Snakefile config data workflow profiles "$1/"
    rm -rf "$1"/workflow/*.egg-info
}

# run NAME ARGS...: time one clean run in $WORK/NAME, print seconds
run() {
    local name=$1
    shift
    copy "$WORK/$name"
    local t0 t1
    t0=$(date +%s.%N)
    (cd "$WORK/$name" && PYTHONHASHSEED=0 "$PYTHON" -m snakemake "$@" >"$WORK/$name.log" 2>&1) || {
        tail -n 40 "$WORK/$name.log" >&2
        exit 1
    }
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{printf "%.0f", $2 - $1}'
}

SITE=(--workflow-profile profiles/slurm --profile "$ROOT/tests/cluster/profile")
machine="$(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GB, $(. /etc/os-release && echo "$PRETTY_NAME")"
versions="snakemake $("$PYTHON" -m snakemake --version), plugin $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("snakemake-executor-plugin-slurm"))'), $(sinfo -V)"

if [[ -n ${ANALYSES:-} ]]; then
    PER_JOB=${PER_JOB:-250}
    (cd bench && "$PYTHON" -c "
import sys, yaml
from bench_workflow import many_config
config = many_config(int(sys.argv[1]), int(sys.argv[2]))
open(sys.argv[3], 'w').write(yaml.safe_dump(config, sort_keys=False))
open(sys.argv[4], 'w').write('\\n'.join(['tables', *(f'results/default/figures/forest_{a}.svg' for a in config['analyses'])]))
" "$ANALYSES" "$PER_JOB" "$WORK/many.yaml" "$WORK/targets.txt")
    mapfile -t TARGETS <"$WORK/targets.txt"
    PLAN=("${TARGETS[@]}" --configfile "$WORK/many.yaml")  # targets first: --configfile takes several values
    t_local=$(run local "${PLAN[@]}")
    t_fast=$(run slurm_fast "${SITE[@]}" "${PLAN[@]}" --seconds-between-status-checks 2 \
        --slurm-init-seconds-before-status-checks 2)
    same=yes
    diff -r "$WORK/local/results" "$WORK/slurm_fast/results" >/dev/null || same=no
    jobs=$(grep -c "submitted with SLURM jobid" "$WORK/slurm_fast.log")
    pooled=$(($(wc -l <"$WORK/local/results/default/tables/pooled.tsv") - 1))
    forests=$(find "$WORK/local/results/default/figures" -name 'forest_*.svg' | wc -l)
    echo "| date | machine | versions | analyses | per batch job | cluster jobs | pooled rows | forest plots | local (s) | SLURM, 2 s polling (s) | outputs identical |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    echo "| $(date -u +%Y-%m-%d) | $machine | $versions | $ANALYSES | $PER_JOB | $jobs | $pooled | $forests | $t_local | $t_fast | $same |"
    [[ $same == yes ]]
    exit
fi

t_local=$(run local)
t_fast=$(run slurm_fast "${SITE[@]}" --seconds-between-status-checks 2 --slurm-init-seconds-before-status-checks 2)
t_profile=$(run slurm_profile "${SITE[@]}")

same=yes
for name in slurm_fast slurm_profile; do
    diff -r "$WORK/local/results" "$WORK/$name/results" >/dev/null || same=no
done
jobs=$(grep -c "submitted with SLURM jobid" "$WORK/slurm_fast.log")
analyses=$(ls "$WORK/local/results/default/analyses" | wc -l)

echo "| date | machine | versions | analyses | cluster jobs | local (s) | SLURM, 2 s polling (s) | SLURM, profile polling (s) | outputs identical |"
echo "|---|---|---|---|---|---|---|---|---|"
echo "| $(date -u +%Y-%m-%d) | $machine | $versions | $analyses | $jobs | $t_local | $t_fast | $t_profile | $same |"
[[ $same == yes ]]
