#!/bin/bash
# Paths with spaces, quotes, ';', '$()', backquotes, a leading '-' and non-ASCII reach GDAL and
# elastix intact (argument vectors, never a shell): `alinify run` under mpirun -np 2 on such
# paths succeeds, writes its outputs under exactly those names, and nothing in a name is
# executed (no file named PWNED appears). docs/reliability.md, promise 3. Label e2e.
#   usage: hostile_paths_test.sh ALINIFY_BIN SOURCE_DIR
set -uo pipefail
BIN=${1:?alinify binary}
SRC=${2:?source dir}
. "$(dirname "${BASH_SOURCE[0]}")/../support/common.sh"
require_commands mpirun
scratch_dir hostile
mpi_launcher -np 2

DIR="$T/in a \"dir\" 'q' ;touch PWNED; \$(touch PWNED) \`touch PWNED\` é ü 漢"
mkdir -p "$DIR/-out dir" || fail "mkdir"
"$BIN" synth --out-dir "$T/pair" --width 400 --height 300 --seed 4 >/dev/null 2>&1 || fail synth
cp "$T/pair/design.tif" "$DIR/-design ;\$(touch PWNED).tif"
cp "$T/pair/scan.tif" "$DIR/-scan 'é'.tif"
cp "$SRC/tests/slurm/fast_affine.txt" "$DIR/-params \$HOME.txt"
cd "$DIR" || fail cd
# Relative names that start with '-' (given as --opt=value): elastix must not read them as options.
"${MPI[@]}" "$BIN" run "--design=-design ;\$(touch PWNED).tif" "--scan=-scan 'é'.tif" \
  "--params=-params \$HOME.txt" "--out=-out dir/-aligned \"1\".tif" --elastix-threads 1 --backend cpu \
  > "$T/run.log" 2>&1 || { tail -20 "$T/run.log"; fail "run on hostile paths"; }
[ -s "$DIR/-out dir/-aligned \"1\".tif" ] || fail "the output is not under its exact name: $(ls "$DIR/-out dir")"
[ -s "$DIR/-out dir/-aligned \"1\".transform.json" ] || fail "no transform.json under its exact name"
[ -s "$DIR/-out dir/-aligned \"1\".transform.elastix/elastix.log" ] || fail "no elastix log in the elastix folder"
grep -qF -- "-params \$HOME.txt" "$DIR/-out dir/-aligned \"1\".transform.elastix/elastix.log" \
  || fail "elastix did not receive the parameter file's exact name"
found=$(find "$T" / -maxdepth 1 -name PWNED 2>/dev/null; find "$T" -name PWNED)
[ -z "$found" ] || fail "something in a path was executed: $found"
# The same names through `warp` with a transform that names them, and map-points.
"$BIN" map-points --transform "$DIR/-out dir/-aligned \"1\".transform.json" --in <(printf 'x,y\n10,20\n') \
  --out "$DIR/-out dir/pts ;\$(touch PWNED).csv" > "$T/mp.log" 2>&1 || { cat "$T/mp.log"; fail map-points; }
[ -s "$DIR/-out dir/pts ;\$(touch PWNED).csv" ] || fail "map-points output not under its exact name"
[ -z "$(find "$T" -name PWNED)" ] || fail "something in a path was executed"
echo "PASS: run (mpirun -np 2), elastix and map-points on paths with spaces, quotes, ;, \$(), backquotes, leading '-', non-ASCII"
