#!/bin/bash
# Under mpirun with ranks bound to cores, the elastix child of rank 0 must run on every CPU the
# job may use, not on its parent's one core (src/reg/elastix_runner.cpp). Label e2e.
# usage: elastix_affinity_test.sh ALINIFY_BIN
set -uo pipefail
BIN=${1:?alinify binary}
. "$(dirname "${BASH_SOURCE[0]}")/../support/common.sh"
require_commands mpirun
allowed=$(taskset -cp $$ | sed 's/.*: //')
[ "$(nproc)" -ge 2 ] || skip "one CPU ($allowed): nothing to widen"
scratch_dir affinity
trap 'pkill -9 -f -- "$T/" 2>/dev/null; rm -rf "$T"' EXIT
mpi_launcher --bind-to core
"$BIN" synth --out-dir "$T/pair" --width 1600 --height 1200 --seed 8 >/dev/null 2>&1 || fail synth
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
[ -n "$elx" ] || fail "elastix never started: $(tail -3 "$T/log")"
rank_cpus=$(taskset -cp "$rank" 2>/dev/null | sed 's/.*: //')
elx_cpus=$(taskset -cp "$elx" 2>/dev/null | sed 's/.*: //')
wait "$job"; rc=$?
echo "  test shell may use CPUs $allowed; rank 0 bound to $rank_cpus; its elastix child ran on $elx_cpus"
[ "$rc" = 0 ] || fail "register under mpirun exited $rc: $(tail -3 "$T/log")"
[ "$rank_cpus" != "$allowed" ] || skip "mpirun did not bind the rank ($rank_cpus): nothing to check"
[ "$elx_cpus" = "$allowed" ] || fail "elastix ran on CPUs $elx_cpus, not on all of $allowed"
echo PASS
