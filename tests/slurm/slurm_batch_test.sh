#!/bin/bash
# Real-Slurm test (CTest label slurm): a one-node Slurm cluster on loopback in a temporary folder
# (its settings are written out in docs/slurm.md), then the scripts of slurm/ on small synthetic
# pairs: (a) one pair, (b) a batch with a broken job, (c) a 2-task job array, (d) scancel in the
# middle of a batch and a resubmission that resumes to outputs identical to (b), (e) an array task
# signalled near its time limit that requeues itself and resumes.
# Exit 77 (CTest: skipped) with the reason when Slurm, munge or root are not available.
#   usage: slurm_batch_test.sh ALINIFY_BIN SOURCE_DIR
set -uo pipefail
BIN=${1:?alinify binary}
SRC=${2:?source dir}
skip() { echo "SKIP: $*"; exit 77; }
source "$(dirname "$0")/slurm_conf.sh"
fail() { echo "FAIL: $*"; [ -n "${T:-}" ] && tail -n 30 "$T"/*.log 2>/dev/null; exit 1; }

for exe in slurmctld slurmd sbatch squeue scontrol scancel sinfo munged munge mpirun; do
  command -v "$exe" >/dev/null || skip "$exe not installed (apt-get install slurmctld slurmd slurm-client munge openmpi-bin)"
done
[ "$(id -u)" -eq 0 ] || skip "slurmd must run as root to start jobs"
[ -x "$BIN" ] || fail "no alinify binary at $BIN"

# The scratch folder must exist before anything runs: an empty $T would make the leftover-process
# clean-up below (pkill -f "$T/") match every process on the machine.
mkdir -p "${ALINIFY_TEST_TMP:-/tmp}"
T=$(mktemp -d "${ALINIFY_TEST_TMP:-/tmp}/slurm-test.XXXXXX") || { echo "cannot create a scratch folder under ${ALINIFY_TEST_TMP:-/tmp}" >&2; exit 1; }
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -9 "$p" 2>/dev/null; done
  [ -n "${ALINIFY_KEEP_TEST_FILES:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# --- munge: reuse a running munged, else start one (stopped by pid at the end) ---
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  [ -f /etc/munge/munge.key ] || { mungekey -c -f -k /etc/munge/munge.key 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null; }
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null
  chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key
  munged --force --pid-file="$T/munged.pid" 2>"$T/munged.log" || skip "munged does not start: $(cat "$T/munged.log")"
  for _ in $(seq 50); do [ -s "$T/munged.pid" ] && break; sleep 0.1; done
  PIDS+=("$(cat "$T/munged.pid")")
  munge -n | unmunge >/dev/null 2>&1 || skip "munge does not work here"
fi

# --- slurm.conf: one node on loopback, state in $T ---
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
mkdir -p "$T/state" "$T/spool"
write_slurm_conf "$T/slurm.conf" alinifytest "${HOST}(127.0.0.1)" 16817 16818 "$T" <<CONF
SlurmdSpoolDir=$T/spool
SlurmdPidFile=$T/slurmd.pid
SlurmdLogFile=$T/slurmd.log
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM} State=UNKNOWN
CONF
export SLURM_CONF=$T/slurm.conf
slurmctld -D -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" -N "$HOST" >"$T/slurmd.out" 2>&1 &
PIDS+=($!)
up=0
for _ in $(seq 60); do
  sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed)' && { up=1; break; }
  sleep 0.5
done
[ $up = 1 ] || { cat "$T"/slurmctld.out "$T"/slurmd.out; skip "the test cluster did not come up (see the logs above)"; }
echo "slurm test cluster up on $HOST ($CPUS CPUs) in $T"

# --- data: 3 small synthetic pairs and a broken scan ---
for s in 1 2 3; do
  "$BIN" synth --out-dir "$T/data/p$s" --width 400 --height 300 --seed "$s" >/dev/null 2>&1 || fail "synth"
done
echo "this is not a raster" > "$T/data/broken_scan.tif"
manifest() {  # folder [copies]: a manifest there, absolute inputs, outputs relative to it
  mkdir -p "$1"
  {
    echo "id,design,scan,out"
    for s in 1 2 3; do echo "p$s,$T/data/p$s/design.tif,$T/data/p$s/scan.tif,out/p$s.tif"; done
    echo "broken,$T/data/p1/design.tif,$T/data/broken_scan.tif,out/broken.tif"
    for c in $(seq "${2:-0}"); do  # the same pairs again: same outputs expected
      for s in 1 2 3; do echo "p$s-$c,$T/data/p$s/design.tif,$T/data/p$s/scan.tif,out/p$s-$c.tif"; done
    done
  } > "$1/jobs.csv"
}
OPTS=(--params "$SRC/tests/slurm/fast_affine.txt" --elastix-threads 1 --mem-budget 512MiB --backend cpu)
export ALINIFY=$BIN

state() { scontrol show job "$1" 2>/dev/null | grep -oP 'JobState=\K\S+' | head -1; }
wait_job() {  # job id, timeout s -> prints the final state
  local end=$((SECONDS + $2)) s
  while [ $SECONDS -lt $end ]; do
    s=$(state "$1")
    case "$s" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|"") echo "$s"; return;; esac
    sleep 1
  done
  echo TIMEOUT_WAITING
}
exitcode() { scontrol show job "$1" | grep -oP ' ExitCode=\K[0-9]+' | head -1; }
sums() { (cd "$1" && for f in out/p1.tif out/p2.tif out/p3.tif; do xxhsum -H1 "$f" 2>/dev/null || sha256sum "$f"; done); }

# (a) one pair on 2 ranks of one node
mkdir -p "$T/a"
ja=$(sbatch --parsable --ntasks-per-node=2 -o "$T/a/slurm.log" "$SRC/slurm/pair.sbatch" \
     "$T/data/p1/design.tif" "$T/data/p1/scan.tif" "$T/a/p1.tif" "${OPTS[@]}") || fail "sbatch (a)"
# (b) the whole manifest as one job; (c) a 2-task array; both queued at once
manifest "$T/b"
jb=$(sbatch --parsable --ntasks-per-node=2 -o "$T/b/slurm.log" "$SRC/slurm/batch.sbatch" "$T/b/jobs.csv" \
     --group-size 1 "${OPTS[@]}") || fail "sbatch (b)"
manifest "$T/c"
jc=$(sbatch --parsable --array=0-1 --ntasks=1 -o "$T/c/slurm-%a.log" "$SRC/slurm/batch_array.sbatch" \
     "$T/c/jobs.csv" "${OPTS[@]}") || fail "sbatch (c)"

sa=$(wait_job "$ja" 240); [ "$sa" = COMPLETED ] || { cat "$T/a/slurm.log"; fail "(a) ended $sa"; }
[ -f "$T/a/p1.tif" ] || fail "(a) no output"
grep -q '\[r1/2\]' "$T/a/slurm.log" || fail "(a) rank 1 did not run"
echo "ok (a) one pair on 2 ranks"

sb=$(wait_job "$jb" 240)
[ "$(exitcode "$jb")" = 2 ] || { cat "$T/b/slurm.log"; fail "(b) exit $(exitcode "$jb") (state $sb), expected 2: one bad input"; }
for s in 1 2 3; do [ -f "$T/b/out/p$s.tif" ] || fail "(b) no out/p$s.tif"; done
[ ! -e "$T/b/out/broken.tif" ] || fail "(b) output of the broken job"
[ "$(grep -c '"event":"done"' "$T/b/jobs.journal.jsonl")" = 3 ] || fail "(b) journal: not 3 done"
grep -q '"event":"failed".*"exit_code":2' "$T/b/jobs.journal.jsonl" || fail "(b) journal: broken job not failed"
grep -q '"failed": 1' "$T/b/jobs.summary.json" || fail "(b) summary"
echo "ok (b) batch: 3 done, the broken job journaled, summary written"

for t in 0 1; do
  st=$(wait_job "${jc}_$t" 240)
  [ -n "$st" ] || st=gone
done
for t in 0 1; do [ -f "$T/c/jobs.shard-$t-of-2.journal.jsonl" ] || fail "(c) no journal of shard $t"; done
[ "$(cat "$T"/c/jobs.shard-*-of-2.journal.jsonl | grep -c '"event":"done"')" = 3 ] || fail "(c) shards: not 3 done"
[ "$(sums "$T/c")" = "$(sums "$T/b")" ] || fail "(c) outputs differ from (b)"
echo "ok (c) job array of 2 shards: outputs identical to (b)"

# (d) scancel as soon as the first job is done (13 jobs), then the same submission resumes
manifest "$T/d" 3
jd=$(sbatch --parsable --ntasks-per-node=2 -o "$T/d/slurm-1.log" "$SRC/slurm/batch.sbatch" "$T/d/jobs.csv" \
     --group-size 1 "${OPTS[@]}") || fail "sbatch (d)"
for _ in $(seq 1200); do
  grep -q '"event":"done"' "$T/d/jobs.journal.jsonl" 2>/dev/null && break
  sleep 0.1
done
grep -q '"event":"done"' "$T/d/jobs.journal.jsonl" || fail "(d) no job finished"
scancel "$jd"
sd=$(wait_job "$jd" 60)
# A plain scancel signals the ranks and the script, which forwards one more: two signals, so the
# running jobs are abandoned, not drained (docs/slurm.md; (e) drains with scancel --batch).
grep -q '"event":"abandon_requested"' "$T/d/jobs.journal.jsonl" ||
  fail "(d) a plain scancel did not abandon the running jobs (docs/slurm.md says it does)"
done_before=$(grep '"event":"done"' "$T/d/jobs.journal.jsonl" | grep -oP '"id":"\K[^"]+' | sort)
lines_before=$(wc -l < "$T/d/jobs.journal.jsonl")
echo "(d) cancelled ($sd) with done: $(echo $done_before)"
jd2=$(sbatch --parsable --ntasks-per-node=2 -o "$T/d/slurm-2.log" "$SRC/slurm/batch.sbatch" "$T/d/jobs.csv" \
      --group-size 1 "${OPTS[@]}") || fail "sbatch (d) again"
sd2=$(wait_job "$jd2" 240)
[ "$(exitcode "$jd2")" = 2 ] || { cat "$T/d/slurm-2.log"; fail "(d) resumed batch exit $(exitcode "$jd2") ($sd2)"; }
# The records of the resumed run go to a file first: `tail | grep -q` under pipefail fails at random
# when grep quits on its match before tail has written all (tail dies of SIGPIPE, exit 141).
tail -n +"$((lines_before + 1))" "$T/d/jobs.journal.jsonl" > "$T/d/resumed.jsonl"
grep -q '"event":"started".*"id":"p' "$T/d/resumed.jsonl" || fail "(d) the resumed batch started no job"
for id in $done_before; do
  grep -q "\"event\":\"started\".*\"id\":\"$id\"" "$T/d/resumed.jsonl" &&
    fail "(d) $id was done before the cancel and was started again"
done
[ "$(sums "$T/d")" = "$(sums "$T/b")" ] || fail "(d) outputs after cancel + resume differ from (b)"
[ "$(grep -c '"event":"done"' "$T/d/jobs.journal.jsonl")" = 12 ] || fail "(d) not 12 jobs done in all"
for c in 1 2 3; do
  for s in 1 2 3; do
    cmp -s "$T/d/out/p$s-$c.tif" "$T/b/out/p$s.tif" || fail "(d) out/p$s-$c.tif differs from (b) out/p$s.tif"
  done
done
grep -q '"event":"stop_requested"' "$T/d/jobs.journal.jsonl" || echo "note: (d) the cancel came before the batch could journal a stop"
not_run=$(grep -oP '"not_run":\K[0-9]+' "$T/d/jobs.journal.jsonl" | head -1)
echo "(d) first run left ${not_run:-?} job(s) not run"
[ "${not_run:-0}" -gt 0 ] || fail "(d) the cancel did not land mid-batch"
echo "ok (d) scancel + resubmit: finished jobs not redone, outputs identical to (b)"

# (e) an array task near its time limit: USR1 to its batch shell (what --signal=B:USR1@120 sends)
# once a job is done; batch_array.sbatch drains and requeues the task (scontrol requeue), and the
# requeued task resumes without starting a job the first run finished.
manifest "$T/e" 2
je=$(sbatch --parsable --array=0-0 --ntasks=2 --open-mode=append -o "$T/e/slurm.log" \
     "$SRC/slurm/batch_array.sbatch" "$T/e/jobs.csv" --group-size 1 "${OPTS[@]}") || fail "sbatch (e)"
for _ in $(seq 1200); do
  grep -q '"event":"done"' "$T/e/jobs.journal.jsonl" 2>/dev/null && break
  sleep 0.1
done
grep -q '"event":"done"' "$T/e/jobs.journal.jsonl" || fail "(e) no job finished"
scancel --signal=USR1 --batch "${je}_0" || fail "(e) scancel --signal=USR1"
se=$(wait_job "${je}_0" 600)
restarts=$(scontrol show job "${je}_0" | grep -oP 'Restarts=\K[0-9]+' | head -1)
[ "${restarts:-0}" -ge 1 ] || { cat "$T/e/slurm.log"; fail "(e) the task was not requeued (state $se)"; }
[ "$(exitcode "${je}_0")" = 2 ] || { cat "$T/e/slurm.log"; fail "(e) requeued task exit $(exitcode "${je}_0") ($se)"; }
grep -q '"event":"stop_requested"' "$T/e/jobs.journal.jsonl" || fail "(e) no stop_requested"
second=$(grep -n '"event":"batch_start"' "$T/e/jobs.journal.jsonl" | sed -n 2p | cut -d: -f1)
[ -n "$second" ] || fail "(e) the requeued task did not start a batch"
done_first=$(head -n "$second" "$T/e/jobs.journal.jsonl" | grep '"event":"done"' | grep -oP '"id":"\K[^"]+')
tail -n +"$second" "$T/e/jobs.journal.jsonl" > "$T/e/requeued.jsonl"
for id in $done_first; do
  grep -q "\"event\":\"started\".*\"id\":\"$id\"" "$T/e/requeued.jsonl" &&
    fail "(e) $id was done before the requeue and was started again"
done
[ "$(grep -c '"event":"done"' "$T/e/jobs.journal.jsonl")" = 9 ] || fail "(e) not 9 jobs done in all"
echo "ok (e) array task drained on USR1, requeued itself (restarts $restarts), resumed: $(echo $done_first | wc -w) job(s) not redone"
echo "PASS"
