#!/usr/bin/env bash
# Soak: a batch of many small pairs under mpirun, peak RSS of every rank recorded every N finished
# jobs (docs/reliability.md, "Soak"). A measurement, not a CI test.
#
#   tools/soak.sh [ALINIFY_BIN]        (default build/bin/alinify)
#
# Environment (defaults): SOAK_JOBS=200 SOAK_RANKS=2 SOAK_PAIRS=8 SOAK_WIDTH=256 SOAK_HEIGHT=192
#   SOAK_EVERY=25 SOAK_PRESET=rigid SOAK_DIR=/tmp/alinify-soak SOAK_MAX_GROWTH_MB=16
#   SOAK_BATCH_ARGS (extra options of `alinify batch`)
#
# How RSS per rank is observed: the batch summary has no RSS, so a sampler reads /proc/<pid>/status
# of each rank (the children of mpirun; the rank from OMPI_COMM_WORLD_RANK in /proc/<pid>/environ)
# every 0.2 s, and the number of `done` records in the batch journal. When that number first
# reaches a multiple of SOAK_EVERY it writes one row per rank: VmHWM (peak RSS so far) and VmRSS
# (now). elastix runs as a child process: its memory is not the rank's and is not counted.
#
# Output: $SOAK_DIR/rss.csv (jobs_done,rank,pid,vmhwm_kb,vmrss_kb,seconds), a table on stdout, and
# a verdict: exit 1 when a rank's VmHWM grew by more than SOAK_MAX_GROWTH_MB between the first
# checkpoint after warm-up (2*SOAK_EVERY jobs) and the last, or the batch failed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(realpath "${1:-$ROOT/build/bin/alinify}")
JOBS=${SOAK_JOBS:-200} RANKS=${SOAK_RANKS:-2} PAIRS=${SOAK_PAIRS:-8} EVERY=${SOAK_EVERY:-25}
W=${SOAK_WIDTH:-256} H=${SOAK_HEIGHT:-192} PRESET=${SOAK_PRESET:-rigid}
DIR=${SOAK_DIR:-/tmp/alinify-soak} MAXG=${SOAK_MAX_GROWTH_MB:-16}
journal=$DIR/soak.journal.jsonl
[ -x "$BIN" ] || { echo "soak: $BIN is not an executable (build it: ./dev build)" >&2; exit 1; }

report_only=${SOAK_REPORT_ONLY:-0}  # 1: print the report of the last run in $SOAK_DIR again
if [ "$report_only" != 1 ]; then
rm -rf "$DIR"
mkdir -p "$DIR/pairs" "$DIR/out"
for ((p = 0; p < PAIRS; p++)); do
  "$BIN" synth --out-dir "$DIR/pairs/p$p" --width "$W" --height "$H" --seed $((p + 1)) --log-level warn
done
{
  echo "id,design,scan,out"
  for ((j = 0; j < JOBS; j++)); do
    p=$((j % PAIRS))
    printf 'j%03d,pairs/p%d/design.tif,pairs/p%d/scan.tif,out/j%03d.tif\n' "$j" "$p" "$p" "$j"
  done
} >"$DIR/soak.csv"

extra=()
[ "$(id -u)" -ne 0 ] || extra+=(--allow-run-as-root)
t0=$(date +%s.%N)
# shellcheck disable=SC2086
mpirun --oversubscribe "${extra[@]}" -np "$RANKS" "$BIN" batch --manifest "$DIR/soak.csv" --group-size 1 \
  --preset "$PRESET" ${SOAK_BATCH_ARGS:-} >"$DIR/batch.log" 2>&1 &
launcher=$!


echo "jobs_done,rank,pid,vmhwm_kb,vmrss_kb,seconds" >"$DIR/rss.csv"
declare -A rank_of hwm rss
next=$EVERY
sample() {
  local pid r
  for pid in $(ps -o pid= --ppid "$launcher" 2>/dev/null); do
    [ -r "/proc/$pid/status" ] || continue
    if [ -z "${rank_of[$pid]:-}" ]; then
      r=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
      [ -n "$r" ] || continue
      rank_of[$pid]=$r
    fi
    hwm[$pid]=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "${hwm[$pid]:-0}")
    rss[$pid]=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "${rss[$pid]:-0}")
  done
}
while kill -0 "$launcher" 2>/dev/null; do
  sample
  done_n=0
  [ ! -f "$journal" ] || done_n=$(grep -cE '"event": ?"done"' "$journal" || true)
  while ((done_n >= next)); do
    now=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    for pid in "${!rank_of[@]}"; do
      echo "$next,${rank_of[$pid]},$pid,${hwm[$pid]:-0},${rss[$pid]:-0},$now" >>"$DIR/rss.csv"
    done
    next=$((next + EVERY))
  done
  sleep 0.2
done
set +e
wait "$launcher"
rc=$?
set -e
wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
echo "$rc $wall" >"$DIR/batch.rc"
fi
read -r rc wall <"$DIR/batch.rc"
done_n=$(grep -cE '"event": ?"done"' "$journal" || true)
failed_n=$(grep -cE '"event": ?"failed"' "$journal" || true)
echo "soak: $JOBS jobs of ${W}x${H} ($PRESET) on mpirun -np $RANKS --group-size 1: batch exit $rc," \
     "$done_n done, $failed_n failed, ${wall} s (log $DIR/batch.log)"
echo "peak RSS (VmHWM) / RSS now, MiB, per rank, every $EVERY finished jobs:"
awk -F, -v warm=$((2 * EVERY)) -v maxg="$MAXG" -v every="$EVERY" '
  NR > 1 { h[$1, $2] = $4; s[$1, $2] = $5; if ($1 > maxk) maxk = $1; if ($2 > maxr) maxr = $2 }
  END {
    printf "%8s", "jobs"; for (r = 0; r <= maxr; r++) printf "  rank %d HWM / RSS", r; printf "\n"
    for (k = every; k <= maxk; k += every) { printf "%8d", k
      for (r = 0; r <= maxr; r++) printf "  %7.1f / %5.1f", h[k, r] / 1024, s[k, r] / 1024; printf "\n" }
    bad = 0
    for (r = 0; r <= maxr; r++) { if (!((warm, r) in h)) continue
      g = (h[maxk, r] - h[warm, r]) / 1024
      printf "rank %d: VmHWM %.1f MiB at %d jobs -> %.1f MiB at %d jobs (growth %+.2f MiB, limit %d)\n", r, h[warm, r] / 1024, warm, h[maxk, r] / 1024, maxk, g, maxg
      if (g > maxg) bad = 1 }
    exit bad }' "$DIR/rss.csv" || { echo "soak: RSS grew beyond the limit" >&2; exit 1; }
[ "$rc" -eq 0 ] && [ "$done_n" -eq "$JOBS" ] || { echo "soak: the batch did not finish every job" >&2; exit 1; }
