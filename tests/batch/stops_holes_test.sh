#!/bin/bash
# Hung jobs, stops that fit Slurm, archives with holes, one writer per transform.json (issue 19,
# items 2-5; docs/batch.md, docs/reliability.md). Real binary, real elastix, small pairs (400x300,
# the fast affine parameters). A job is made to hang with an elastix wrapper that stops itself
# (SIGSTOP) when its arguments name a job called STALLME-*: alinify's child is then a stopped
# process, as when elastix hangs. Label e2e.
#   usage: stops_holes_test.sh ALINIFY_BIN SOURCE_DIR
set -uo pipefail
BIN=${1:?alinify binary}
SRC=${2:?source dir}
. "$(dirname "${BASH_SOURCE[0]}")/../support/common.sh"
require_commands mpirun elastix
scratch_dir stops-holes
mpi_launcher -np 2
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
wait_for() { local n=$(($1 * 20)); shift; for _ in $(seq "$n"); do "$@" && return 0; sleep 0.05; done; return 1; }
gone() { ! kill -0 "$1" 2>/dev/null; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# Waits for our child $1 at most $2 seconds: RC is its exit code, or "hang" (then it is killed).
bounded_wait() {
  if wait_for "$2" gone "$1"; then wait "$1"; RC=$?; else kill -9 "$1"; wait "$1"; RC=hang; fi
}
procs_left() { pgrep -af -- "$T/" | grep -v pgrep; }
no_procs() { [ -z "$(procs_left)" ]; }
no_procs_left() {
  wait_for 10 no_procs || { fail "$1: processes left: $(procs_left)"; pkill -9 -f -- "$T/"; }
}
# How many stalled elastix wrappers (state T) there are now.
stalled() { local p n=0; for p in $(pgrep -f -- "$T/.*STALLME"); do grep -q '^State:.*T' "/proc/$p/status" 2>/dev/null && n=$((n + 1)); done; echo "$n"; }
stalled_at_least() { [ "$(stalled)" -ge "$1" ]; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
last_event() { grep "\"event\":\"$2\"" "$1" | tail -1; }
# case: a new case begins; passed TEXT: its summary line, only when it had no failure.
case_begin() { case_failures=$failures; }
passed() { [ "$failures" = "$case_failures" ] && echo "$*"; }

REAL_ELASTIX=$(command -v elastix)
cat > "$T/elastix" <<EOF
#!/bin/bash
# elastix that hangs (stops itself) for the jobs named STALLME-*; the others run the real one.
case "\$*" in *STALLME*) kill -STOP \$\$ ;; esac
exec "$REAL_ELASTIX" "\$@"
EOF
chmod +x "$T/elastix"
REG=(--params "$SRC/tests/slurm/fast_affine.txt" --elastix-threads 1 --mem-budget 512MiB)
BASE=("${REG[@]}" --backend cpu --no-qa)
OPTS=("${BASE[@]}" --elastix "$T/elastix")
# p3 is smaller: its jobs are handed out after those of p1 and p2 (largest first).
for s in 1 2; do "$BIN" synth --out-dir "$T/data/p$s" --width 400 --height 300 --seed "$s" >/dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }; done
"$BIN" synth --out-dir "$T/data/p3" --width 200 --height 150 --seed 3 >/dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }
D1=$T/data/p1/design.tif S1=$T/data/p1/scan.tif D2=$T/data/p2/design.tif S2=$T/data/p2/scan.tif
D3=$T/data/p3/design.tif S3=$T/data/p3/scan.tif

case_begin
# --- 4. Archives with holes: a missing input fails its job alone (exit 2), listed in the summary.
mkdir -p "$T/holes"
{ echo "id,design,scan,out"
  echo "a,$D1,$S1,out/a.tif"
  echo "hole,$D2,$T/data/never-scanned.tif,out/hole.tif"
  echo "b,$D2,$S2,out/b.tif"; } > "$T/holes/jobs.csv"
"$BIN" batch --manifest "$T/holes/jobs.csv" "${OPTS[@]}" --strict-inputs > "$T/strict.log" 2>&1
rc=$?
[ "$rc" = 2 ] || fail "holes --strict-inputs: exit $rc, 2 expected"
grep -q "jobs.csv:3: $T/data/never-scanned.tif: no such file" "$T/strict.log" || fail "holes --strict-inputs: no line naming the file"
[ ! -e "$T/holes/out" ] || fail "holes --strict-inputs: something was started"
"$BIN" batch --manifest "$T/holes/jobs.csv" "${OPTS[@]}" > "$T/holes.log" 2>&1
rc=$?
[ "$rc" = 2 ] || { tail -5 "$T/holes.log"; fail "holes: exit $rc, 2 expected (only bad input failed)"; }
[ -s "$T/holes/out/a.tif" ] && [ -s "$T/holes/out/b.tif" ] || fail "holes: the whole jobs were not done"
[ ! -e "$T/holes/out/hole.tif" ] || fail "holes: an output for the job with a hole"
grep -q "job hole not started: $T/data/never-scanned.tif: no such file" "$T/holes.log" || fail "holes: no log line naming the file"
S=$T/holes/jobs.summary.json
[ "$(json "$S" 'd["missing_inputs"]')" = "['hole: $T/data/never-scanned.tif: no such file']" ] || fail "holes: summary missing_inputs: $(json "$S" 'd["missing_inputs"]')"
[ "$(json "$S" '[j["exit_code"] for j in d["job_results"] if j["id"]=="hole"][0]')" = 2 ] || fail "holes: exit code of the job"
grep -q "Missing inputs (1 jobs)" "$T/holes/jobs.index.html" || fail "holes: index page does not list the missing input"
passed "holes: --strict-inputs refused (exit 2), then 2 done + 1 failed on its missing scan (exit 2)"

case_begin
# --- 2. Hung job: one group of 2 ranks; its elastix stops; the time limit (manifest column) ends
# it, and the same group runs the next job.
mkdir -p "$T/hung"
{ echo "id,design,scan,out,job-timeout"
  echo "STALLME-1,$D1,$S1,out/STALLME-1.tif,8"
  echo "after,$D1,$S1,out/after.tif,"; } > "$T/hung/jobs.csv"
"${MPI[@]}" "$BIN" batch --manifest "$T/hung/jobs.csv" "${OPTS[@]}" --group-size 2 > "$T/hung.log" 2>&1 &
mp=$!
wait_for 60 stalled_at_least 1 || fail "hung: the elastix of STALLME-1 never stopped"
t0=$(now)
bounded_wait "$mp" 120
took=$(since "$t0")
[ "$RC" = 3 ] || { tail -5 "$T/hung.log"; fail "hung: exit $RC, 3 expected"; }
S=$T/hung/jobs.summary.json
err=$(json "$S" '[j["error"] for j in d["job_results"] if j["id"]=="STALLME-1"][0]')
echo "$err" | grep -q "time limit of 8 s (--job-timeout)" || fail "hung: reason not recorded: $err"
[ "$(json "$S" '[j["status"] for j in d["job_results"] if j["id"]=="after"][0]')" = done ] || fail "hung: the next job was not done"
[ -z "$(ls "$T/hung/out" | grep STALLME-1 | grep -v elastix)" ] || fail "hung: output of the hung job left: $(ls "$T/hung/out")"
[ "$(stalled)" = 0 ] || fail "hung: the stopped elastix is still there"
no_procs_left hung
passed "hung: STALLME-1 stopped at its 8 s limit (exit 3, reason in the summary), the group then did 'after' (batch ended $took s after elastix stopped)"

case_begin
# --- 2b. A group that cannot answer: rank 1 stopped (SIGSTOP) mid-job, so no check runs there. The
# dispatcher fails its job after the limit + grace (6 + 10.6 s), rank 0's group finishes the rest,
# the summary is written, and every rank is ended (exit 3).
mkdir -p "$T/frozen"
{ echo "id,design,scan,out"
  for c in 1 2 3; do echo "f$c,$D1,$S1,out/f$c.tif"; done; } > "$T/frozen/jobs.csv"
"${MPI[@]}" "$BIN" batch --manifest "$T/frozen/jobs.csv" "${BASE[@]}" --group-size 1 --job-timeout 6 > "$T/frozen.log" 2>&1 &
mp=$!
wait_for 60 grep -qs '"event":"started".*"group":1' "$T/frozen/jobs.journal.jsonl" || fail "frozen: rank 1 got no job"
victim=$(for p in $(pgrep -P "$mp"); do grep -qz "OMPI_COMM_WORLD_RANK=1" "/proc/$p/environ" 2>/dev/null && echo "$p"; done)
frozen_id=$(grep '"event":"started".*"group":1' "$T/frozen/jobs.journal.jsonl" | head -1 | grep -oP '"id":"\K[^"]+')
[ -n "$victim" ] && kill -STOP "$victim"
t0=$(now)
bounded_wait "$mp" 120
took=$(since "$t0")
[ "$RC" = 3 ] || { tail -5 "$T/frozen.log"; fail "frozen: exit $RC, 3 expected"; }
S=$T/frozen/jobs.summary.json
err=$(json "$S" "[j['error'] for j in d['job_results'] if j['id']=='$frozen_id'][0]")
echo "$err" | grep -q "its group (rank 1) did not answer" || fail "frozen: $frozen_id: $err"
grep -q '"event":"batch_end"' "$T/frozen/jobs.journal.jsonl" || fail "frozen: no batch_end"
# Its .partial files stay (its rank was killed, as by kill -9): a rerun takes them over.
[ ! -e "$T/frozen/out/$frozen_id.tif" ] && [ ! -e "$T/frozen/out/$frozen_id.transform.json" ] || fail "frozen: an output of the frozen job"
no_procs_left frozen
passed "frozen: rank 1 stopped in $frozen_id; failed and its group retired, batch ended (exit 3) $took s after the stop"

case_begin
# --- 3a. --on-stop abandon under mpirun: USR1 while both groups' jobs hang; they end at once,
# nothing under a final name, the journal names the jobs to redo; --resume does them.
mkdir -p "$T/ab"
{ echo "id,design,scan,out"
  echo "STALLME-a,$D1,$S1,out/STALLME-a.tif"
  echo "STALLME-b,$D2,$S2,out/STALLME-b.tif"
  echo "w1,$D3,$S3,out/w1.tif"; } > "$T/ab/jobs.csv"
"${MPI[@]}" "$BIN" batch --manifest "$T/ab/jobs.csv" "${OPTS[@]}" --group-size 1 --on-stop abandon > "$T/ab.log" 2>&1 &
mp=$!
wait_for 60 stalled_at_least 2 || fail "abandon: the two jobs did not both reach elastix"
kill -USR1 "$mp"
t0=$(now)
bounded_wait "$mp" 60
took=$(since "$t0")
[ "$RC" = 3 ] || { tail -5 "$T/ab.log"; fail "abandon: exit $RC, 3 expected"; }
J=$T/ab/jobs.journal.jsonl
last_event "$J" abandon_requested | grep -q '"redo":\["STALLME-[ab]","STALLME-[ab]"\]' || fail "abandon: journal: $(last_event "$J" abandon_requested)"
last_event "$J" batch_end | grep -q '"redo":\["STALLME-a","STALLME-b","w1"\]' || fail "abandon: batch_end: $(last_event "$J" batch_end)"
[ -z "$(ls "$T/ab/out" 2>/dev/null | grep -v '\.elastix$')" ] || fail "abandon: files left: $(ls "$T/ab/out")"
no_procs_left abandon
# The same jobs with the real elastix.
"${MPI[@]}" "$BIN" batch --manifest "$T/ab/jobs.csv" "${BASE[@]}" --group-size 1 --resume > "$T/ab2.log" 2>&1 || fail "abandon: --resume did not finish"
[ "$(json "$T/ab/jobs.summary.json" 'd["done"]')" = 3 ] || fail "abandon: --resume did not do the 3 jobs"
passed "abandon: USR1 with --on-stop abandon ended 2 hung jobs (exit 3 after $took s, redo listed), --resume did all 3"

case_begin
# --- 3b. Alone: the first SIGTERM drains (the hung job goes on), the second abandons it.
mkdir -p "$T/two"
{ echo "id,design,scan,out"; echo "STALLME-t,$D1,$S1,out/STALLME-t.tif"; echo "w2,$D3,$S3,out/w2.tif"; } > "$T/two/jobs.csv"
"$BIN" batch --manifest "$T/two/jobs.csv" "${OPTS[@]}" > "$T/two.log" 2>&1 &
pid=$!
wait_for 60 stalled_at_least 1 || fail "two signals: the job did not reach elastix"
kill -TERM "$pid"
wait_for 10 grep -qs '"event":"stop_requested"' "$T/two/jobs.journal.jsonl" || fail "two signals: no stop_requested"
kill -0 "$pid" 2>/dev/null || fail "two signals: the first SIGTERM did not drain (the batch ended)"
kill -TERM "$pid"
t0=$(now)
bounded_wait "$pid" 60
took=$(since "$t0")
[ "$RC" = 3 ] || fail "two signals: exit $RC, 3 expected"
grep -q '"event":"abandon_requested".*"redo":\["STALLME-t"\]' "$T/two/jobs.journal.jsonl" || fail "two signals: no abandon record"
[ -z "$(ls "$T/two/out" 2>/dev/null | grep -v '\.elastix$')" ] || fail "two signals: files left: $(ls "$T/two/out")"
no_procs_left "two signals"
passed "two signals: the first SIGTERM drained, the second abandoned the hung job (exit 3 after $took s)"

case_begin
# --- 5. transform.json under a lock: a second register to the same path exits 3, touches nothing.
mkdir -p "$T/reg"
TJ=$T/reg/STALLME-r.json
"$BIN" register --design "$D1" --scan "$S1" --out "$TJ" "${REG[@]}" --elastix "$T/elastix" > "$T/reg1.log" 2>&1 &
first=$!
wait_for 60 stalled_at_least 1 || fail "lock: the first register did not reach elastix"
before=$(cd "$T/reg" && find . -type f -exec stat -c '%n %s %Y' {} + | sort)
"$BIN" register --design "$D2" --scan "$S2" --out "$TJ" "${REG[@]}" > "$T/reg2.log" 2>&1
rc=$?
[ "$rc" = 3 ] || fail "lock: second register exit $rc, 3 expected"
grep -q "another alinify process is writing this output now" "$T/reg2.log" || fail "lock: message: $(tail -1 "$T/reg2.log")"
[ "$before" = "$(cd "$T/reg" && find . -type f -exec stat -c '%n %s %Y' {} + | sort)" ] || fail "lock: the second register touched the first's files"
for p in $(pgrep -f -- "$T/.*STALLME"); do kill -CONT "$p"; done
bounded_wait "$first" 120
[ "$RC" = 0 ] || fail "lock: the first register exit $RC after SIGCONT"
[ -s "$TJ" ] && [ ! -e "$TJ.partial" ] || fail "lock: no transform.json from the first register, or a .partial left"
passed "lock: a second register to the same transform.json exit 3, nothing touched; the first finished"

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo PASS
