#!/bin/bash
# Under mpirun with ranks bound to cores, the elastix child of rank 0 must run on every CPU the
# job may use, not on its parent's one core (src/reg/elastix_runner.cpp). Label e2e.
# usage: elastix_affinity_test.sh ALINIFY_BIN
set -uo pipefail
BIN=${1:?alinify binary}
command -v mpirun >/dev/null || { echo "SKIP: no mpirun"; exit 77; }
allowed=$(taskset -cp $$ | sed 's/.*: //')
[ "$(nproc)" -ge 2 ] || { echo "SKIP: one CPU ($allowed): nothing to widen"; exit 77; }
# The scratch folder must exist before anything runs: an empty $T would make the leftover-process
# clean-up below (pkill -f "$T/") match every process on the machine.
mkdir -p "${ALINIFY_TEST_TMP:-/tmp}"
T=$(mktemp -d "${ALINIFY_TEST_TMP:-/tmp}/affinity.XXXXXX") || { echo "cannot create a scratch folder under ${ALINIFY_TEST_TMP:-/tmp}" >&2; exit 1; }
trap 'pkill -9 -f -- "$T/" 2>/dev/null; rm -rf "$T"' EXIT
MPI=(mpirun --oversubscribe --bind-to core)
[ "$(id -u)" -ne 0 ] || MPI+=(--allow-run-as-root)
"$BIN" synth --out-dir "$T/pair" --width 1600 --height 1200 --seed 8 >/dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }
"${MPI[@]}" -np 1 "$BIN" register --design "$T/pair/design.tif" --scan "$T/pair/scan.tif" --preset bspline \
  --out "$T/t.json" >"$T/log" 2>&1 &
job=$!
# The rank (bound by mpirun) and its elastix child, found by the fixed image that names the folder.
rank= elx=
for _ in $(seq 1200); do
  rank=$(pgrep -P "$job" -f -- "register --design" | head -1)  # mpirun's child, not mpirun
  elx=$(pgrep -f -- "-f $T/t.elastix/design_reg.mhd" | head -1)
  [ -n "$elx" ] && break
  sleep 0.05
done
[ -n "$elx" ] || { echo "FAIL: elastix never started: $(tail -3 "$T/log")"; exit 1; }
rank_cpus=$(taskset -cp "$rank" 2>/dev/null | sed 's/.*: //')
elx_cpus=$(taskset -cp "$elx" 2>/dev/null | sed 's/.*: //')
wait "$job"; rc=$?
echo "  test shell may use CPUs $allowed; rank 0 bound to $rank_cpus; its elastix child ran on $elx_cpus"
[ "$rc" = 0 ] || { echo "FAIL: register under mpirun exited $rc: $(tail -3 "$T/log")"; exit 1; }
[ "$rank_cpus" != "$allowed" ] || { echo "SKIP: mpirun did not bind the rank ($rank_cpus): nothing to check"; exit 77; }
[ "$elx_cpus" = "$allowed" ] || { echo "FAIL: elastix ran on CPUs $elx_cpus, not on all of $allowed"; exit 1; }
echo PASS
