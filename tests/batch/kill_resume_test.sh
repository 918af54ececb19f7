#!/bin/bash
# kill -9 of one rank in the middle of a batch (mpirun -np 2, groups of 1 rank), then --resume:
# the outputs equal those of a clean run byte for byte, no job recorded done is started again, and
# nothing half-written is trusted. Label e2e.
#   usage: kill_resume_test.sh ALINIFY_BIN SOURCE_DIR
set -uo pipefail
BIN=${1:?alinify binary}
SRC=${2:?source dir}
. "$(dirname "${BASH_SOURCE[0]}")/../support/common.sh"
require_commands mpirun
scratch_dir kill-resume
mpi_launcher -np 2
OPTS=(--params "$SRC/tests/slurm/fast_affine.txt" --elastix-threads 1 --mem-budget 512MiB --backend cpu --group-size 1)

for s in 1 2; do "$BIN" synth --out-dir "$T/data/p$s" --width 400 --height 300 --seed "$s" >/dev/null 2>&1 || fail synth; done
manifest() {
  mkdir -p "$1"
  { echo "id,design,scan,out"
    for c in 1 2 3 4; do for s in 1 2; do echo "p$s-$c,$T/data/p$s/design.tif,$T/data/p$s/scan.tif,out/p$s-$c.tif"; done; done
  } > "$1/jobs.csv"
}

# The clean run.
manifest "$T/clean"
"${MPI[@]}" "$BIN" batch --manifest "$T/clean/jobs.csv" "${OPTS[@]}" > "$T/clean.log" 2>&1 || { tail -20 "$T/clean.log"; fail "clean run"; }

# The killed run: kill -9 rank 1 once the first job is done (the other rank is then mid-job).
manifest "$T/k"
"${MPI[@]}" "$BIN" batch --manifest "$T/k/jobs.csv" "${OPTS[@]}" > "$T/k1.log" 2>&1 &
mp=$!
for _ in $(seq 1200); do grep -q '"event":"done"' "$T/k/jobs.journal.jsonl" 2>/dev/null && break; sleep 0.1; done
victim=""
for p in $(pgrep -P "$mp"); do
  grep -q 'OMPI_COMM_WORLD_RANK=1' "/proc/$p/environ" 2>/dev/null && victim=$p
done
[ -n "$victim" ] || fail "rank 1 not found among the children of mpirun $mp"
kill -9 "$victim"
wait "$mp"
rc=$?
[ "$rc" -ne 0 ] || fail "the killed batch exited 0"
done_before=$(grep '"event":"done"' "$T/k/jobs.journal.jsonl" | grep -oP '"id":"\K[^"]+' | sort)
n_before=$(echo "$done_before" | grep -c .)
lines_before=$(wc -l < "$T/k/jobs.journal.jsonl")
echo "killed rank 1 (pid $victim): mpirun exit $rc, $n_before of 8 jobs done: $(echo $done_before)"
[ "$n_before" -lt 8 ] || fail "the kill came after the whole batch"

# A truncated output that the journal never recorded: must be redone, not trusted.
# And a recorded output damaged on disk: must be redone too.
first=$(echo "$done_before" | head -1)
cp "$T/k/out/$first.tif" "$T/damaged.tif"
printf 'x' | dd of="$T/k/out/$first.tif" bs=1 seek=1000 conv=notrunc 2>/dev/null

# What a rank killed while writing leaves (the kill above lands inside a write only now and then):
# temporaries named with a dead pid, beside a job the resume redoes, in its QA and elastix folders,
# and the image output's staging. The redo must remove them all.
redo=$(for c in 1 2 3 4; do for s in 1 2; do echo "p$s-$c"; done; done | grep -vxF "$done_before" | head -1)
mkdir -p "$T/k/out/$redo.qa" "$T/k/out/$redo.transform.elastix"
for f in "$redo.metrics.json" "$redo.transform.json" "$redo.report.html" "$redo.qa/thumbnail.png" \
         "$redo.transform.elastix/TransformParameters.0.txt"; do
  echo x > "$T/k/out/$f.partial.999999"
done
echo x > "$T/k/out/$redo.tif.partial-compressed"

"${MPI[@]}" "$BIN" batch --manifest "$T/k/jobs.csv" --resume "${OPTS[@]}" > "$T/k2.log" 2>&1 || { tail -20 "$T/k2.log"; fail "resume"; }
grep -q "was recorded done but output .* has checksum" "$T/k2.log" || fail "the damaged output was not detected"
for id in $done_before; do
  started=$(tail -n +"$((lines_before + 1))" "$T/k/jobs.journal.jsonl" | grep -c "\"event\":\"started\".*\"id\":\"$id\"")
  if [ "$id" = "$first" ]; then
    [ "$started" = 1 ] || fail "damaged $id not redone once"
  else
    [ "$started" = 0 ] || fail "$id was recorded done and was started again"
  fi
done
for c in 1 2 3 4; do for s in 1 2; do
  cmp -s "$T/clean/out/p$s-$c.tif" "$T/k/out/p$s-$c.tif" || fail "out/p$s-$c.tif differs from the clean run"
done; done
left=$(cd "$T/k/out" && find . -name '*partial*')
[ -z "$left" ] || fail "partial files left: $(echo $left)"
echo "PASS: $n_before jobs survived the kill, the rest (and one damaged output) redone; 8 outputs identical to the clean run"
