#!/bin/bash
# Real-Slurm test of two nodes on one machine (CTest label slurm; docs/slurm.md, "Two nodes"): two
# network + UTS namespaces (hostnames node1 and node2, addresses 10.251.x.2 and .3 on a bridge whose
# root-side address .1 is the controller's), a slurmd in each, one slurmctld in the root namespace,
# a munged of the test's own (its unix socket is on the file system every namespace sees), Open MPI
# over TCP between the namespaces. Then the scripts of slurm/ on small synthetic pairs, against
# reference outputs of one process without Slurm:
#   (a) srun and mpirun inside `sbatch -N 2` start ranks on both hostnames; `alinify run` with one
#       rank a node (pair.sbatch, and mpirun) reports rank 0 on node1 and rank 1 on node2, each
#       local rank 0 of 1 (metrics.json "ranks", the rank log line); 3 ranks with `--mem=1200M`
#       and no --mem-budget: node1's 2 ranks plan with 600 MiB each, node2's one with 1200 MiB;
#   (b) those runs' outputs are byte-identical (cmp) to the reference;
#   (c) `alinify batch` with one group per node (2 ranks a node): 2 groups of 2, every job's ranks
#       on one node, both nodes run jobs, outputs identical to the reference;
#   (d) a 2-task job array, one task per node; every process of task 1's node (slurmd, slurmstepd,
#       the rank, elastix) killed once its shard has finished a job: that task ends NODE_FAIL, the
#       other task finishes its jobs, and the same submission once the node is back resumes
#       without redoing a finished job, to outputs identical to the reference;
#   (e) one batch job over both nodes (a 1-rank group on each): node2 killed once a job is done;
#       node1's group goes on, the job ends NODE_FAIL, the same submission redoes only the rest.
# Exit 77 (CTest: skipped) with the reason where Slurm, munge, root or namespaces are missing.
# The namespaces, bridge and veths are named after this shell's pid, daemons are stopped by pid,
# and whatever is left in the test's namespaces is killed before they are deleted; nothing outside
# them is touched. Keep the files with ALINIFY_KEEP_TEST_FILES=1.
#   usage: slurm_two_nodes_test.sh ALINIFY_BIN SOURCE_DIR
set -uo pipefail
BIN=${1:?alinify binary}
SRC=${2:?source dir}
skip() { echo "SKIP: $*"; exit 77; }
source "$(dirname "$0")/slurm_conf.sh"
fail() {
  echo "FAIL: $*"
  [ -n "${T:-}" ] && for f in "$T"/*.log "$T"/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
  exit 1
}

for exe in slurmctld slurmd sbatch squeue scontrol scancel sinfo munged munge mpirun ip unshare nsenter; do
  command -v "$exe" >/dev/null || skip "$exe not installed (apt-get install slurmctld slurmd slurm-client munge openmpi-bin iproute2)"
done
[ "$(id -u)" -eq 0 ] || skip "namespaces and slurmd need root"
[ -x "$BIN" ] || fail "no alinify binary at $BIN"
unshare --net --uts true 2>/dev/null || skip "unshare --net --uts does not work here (no namespaces in this sandbox)"

# Ports away from the one-node test's (16817/16818); each slurmd listens in its own namespace.
CTL_PORT=16827
SLURMD_PORT=16828
if command -v ss >/dev/null && ss -Hltn "sport = :$CTL_PORT" | grep -q .; then
  skip "port $CTL_PORT is in use (another run of this test?)"
fi

mkdir -p "${ALINIFY_TEST_TMP:-/tmp}"
T=$(mktemp -d "${ALINIFY_TEST_TMP:-/tmp}/slurm2-test.XXXXXX") || { echo "cannot create a scratch folder" >&2; exit 1; }
# The nodes' TmpFS, where the pmix plugin and Open MPI make unix sockets: a short path (at most
# 108 characters for a socket), so /tmp rather than the build folder.
TS=$(mktemp -d /tmp/al2n.XXXXXX) || { echo "cannot create a folder under /tmp" >&2; rm -rf "$T"; exit 1; }
# Names unique to this run (interface names: at most 15 characters).
TAG=$$
NS=("al$TAG-n1" "al$TAG-n2")
VETH=("al${TAG}a1" "al${TAG}a2")
BR="al${TAG}br"
PIDS=()
cleanup() {
  set +e
  # Daemons by pid (slurmctld, the slurmds, this test's munged), then whatever is left
  # in this test's namespaces (job steps, ranks, elastix).
  local k p
  for ((k = ${#PIDS[@]} - 1; k >= 0; k--)); do  # the last started first: munged last
    p=${PIDS[$k]}
    kill "$p" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  for ns in "${NS[@]}"; do
    if ip netns list | grep -qw "$ns"; then
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
      ip netns del "$ns" 2>/dev/null
    fi
  done
  for v in "${VETH[@]}"; do ip link del "$v" 2>/dev/null; done
  ip link del "$BR" 2>/dev/null
  [ -n "${ALINIFY_KEEP_TEST_FILES:-}" ] || rm -rf "$T" "$TS"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- the network: a bridge in the root namespace, one veth pair per node ---
# A /24 of 10.251.0.0/16 that no interface of the machine uses yet, searched from one that depends
# on this shell's pid, so that two runs at once are unlikely to pick the same.
NET=
for k in $(seq 0 250); do
  o=$(((TAG + k) % 251))
  ip -4 addr show | grep -q "inet 10\.251\.$o\." || { NET=10.251.$o; break; }
done
[ -n "$NET" ] || skip "no free /24 in 10.251.0.0/16"
ip link add "$BR" type bridge 2>"$T/ip.log" || skip "cannot make a bridge: $(cat "$T/ip.log")"
ip addr add "$NET.1/24" dev "$BR" && ip link set "$BR" up || fail "bridge address"
for i in 0 1; do
  n=$((i + 1))
  ip netns add "${NS[$i]}" 2>"$T/ip.log" || skip "ip netns add does not work here: $(cat "$T/ip.log")"
  ip link add "${VETH[$i]}" type veth peer name eth0 netns "${NS[$i]}" 2>"$T/ip.log" ||
    skip "cannot make a veth pair: $(cat "$T/ip.log")"
  ip link set "${VETH[$i]}" master "$BR" && ip link set "${VETH[$i]}" up || fail "veth ${VETH[$i]}"
  ip -n "${NS[$i]}" link set lo up || fail "lo in ${NS[$i]}"
  ip -n "${NS[$i]}" addr add "$NET.$((n + 1))/24" dev eth0 || fail "address in ${NS[$i]}"
  ip -n "${NS[$i]}" link set eth0 up || fail "eth0 in ${NS[$i]}"
done
echo "network: bridge $BR $NET.1, node1 $NET.2 (${NS[0]}), node2 $NET.3 (${NS[1]})"

# --- munge: a munged of this test's own (own key, socket in $TS), so that neither this test nor a
# one-node test running beside it stops the other's; every namespace reaches its unix socket
# through the file system. ---
dd if=/dev/urandom of="$TS/munge.key" bs=1024 count=1 2>/dev/null && chmod 0400 "$TS/munge.key" || fail "munge key"
MUNGE_SOCKET=$TS/munge.sock
munged -F --force --socket="$MUNGE_SOCKET" --key-file="$TS/munge.key" --pid-file="$TS/munged.pid" \
  --log-file="$T/munged.log" --seed-file="$TS/munged.seed" >"$T/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$MUNGE_SOCKET" ] && break; sleep 0.1; done
munge -S "$MUNGE_SOCKET" -n 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1 ||
  skip "munged does not work here: $(cat "$T/munged.out")"
nsenter --net="/run/netns/${NS[0]}" sh -c "munge -S '$MUNGE_SOCKET' -n | unmunge -S '$MUNGE_SOCKET'" >/dev/null 2>&1 ||
  skip "munge does not work from a network namespace"

# --- slurm.conf: two nodes, state in $T ---
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( ($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024) / 2 ))
mkdir -p "$T/state" "$T/spool"
# Every task (and batch script) gets a TMPDIR of its node's own in this run's folder, and Open MPI's
# shared-memory files go there too instead of /dev/shm: their names (node name, a hash of the
# job id) repeat from run to run and between two runs of this test at once, a rank killed with
# kill -9 (in (d)) leaves its file behind, and a later rank of the same name then fails in
# "shared memory initialization" (seen once in 30 runs). Real nodes each have their own /dev/shm.
cat > "$T/task_prolog.sh" <<PROLOG
#!/bin/sh
mkdir -p "$TS/\$SLURMD_NODENAME/tmpdir"
echo "export TMPDIR=$TS/\$SLURMD_NODENAME/tmpdir"
echo "export OMPI_MCA_btl_vader_backing_directory=$TS/\$SLURMD_NODENAME/tmpdir"
PROLOG
chmod +x "$T/task_prolog.sh"
# SlurmdTimeout: how soon a killed node is declared down (NODE_FAIL). (e) needs node1's group to
# finish a job in that time: with 10 s, a CI run on a machine loaded by other work (two 283 MP
# jobs at once) saw node1 finish none before the job was failed 36 s after the kill; 30 s more slack.
write_slurm_conf "$T/slurm.conf" alinifytest2 "${HOST}(${NET}.1)" "${CTL_PORT}" "${SLURMD_PORT}" "$T" <<CONF
AuthInfo=socket=${MUNGE_SOCKET}
SlurmdSpoolDir=$T/spool/%n
TmpFS=$TS/%n
TaskProlog=$T/task_prolog.sh
SlurmdPidFile=$T/slurmd-%n.pid
SlurmdLogFile=$T/slurmd-%n.log
SlurmdTimeout=30
NodeName=node1 NodeAddr=${NET}.2 NodeHostname=node1 CPUs=${CPUS} RealMemory=${MEM} State=UNKNOWN
NodeName=node2 NodeAddr=${NET}.3 NodeHostname=node2 CPUs=${CPUS} RealMemory=${MEM} State=UNKNOWN
CONF
export SLURM_CONF=$T/slurm.conf
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
slurmctld -D -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
PIDS+=($!)
start_node() {  # index: slurmd of node<index+1> in its namespace, with its own hostname
  local n=node$(($1 + 1))
  # Its own TmpFS: the pmix plugin makes a folder per step there, named by job and step alone.
  mkdir -p "$T/spool/$n" "$TS/$n"
  # nsenter, not `ip netns exec`: that one remounts /sys, and slurmd wants the cgroup mounts under
  # it. nsenter and unshare exec their command (no fork), and so does sh: $! is slurmd's pid.
  nsenter --net="/run/netns/${NS[$1]}" unshare --uts sh -c "hostname $n && exec slurmd -D -N $n -f '$SLURM_CONF'" \
    >"$T/slurmd-$n.out" 2>&1 &
  PIDS+=($!)
  disown $!  # no "Killed" notice when (d) kills it
}
start_node 0
start_node 1
nodes_up() {  # count of nodes idle or mixed
  sinfo -h -N -o '%N %T' 2>/dev/null | grep -cE ' (idle|mixed|allocated)$'
}
bring_back() {  # index, label: a lost node's slurmd started again, and both nodes up within 60 s
  start_node "$1"
  for _ in $(seq 120); do
    [ "$(nodes_up)" = 2 ] && return
    sleep 0.5
  done
  sinfo -N
  fail "($2) node$(($1 + 1)) did not come back"
}
up=0
for _ in $(seq 90); do
  [ "$(nodes_up)" = 2 ] && { up=1; break; }
  sleep 0.5
done
[ $up = 1 ] || { sinfo -N; cat "$T"/slurmctld.out "$T"/slurmd-*.out; fail "the two-node test cluster did not come up (see the logs above)"; }
sinfo -N
echo "slurm test cluster of two nodes up in $T"

state() { scontrol show job "$1" 2>/dev/null | grep -oP 'JobState=\K\S+' | head -1; }
# wait_job ID TIMEOUT: the job's final state in $ST. Not a $(...) subshell: a TERM to this script
# runs its clean-up after the running command, and a subshell polling a job is one long command.
wait_job() {
  local end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do
    ST=$(state "$1")
    case "$ST" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|"") return;; esac
    sleep 1
  done
  ST=TIMEOUT_WAITING
}
exitcode() { scontrol show job "$1" | grep -oP ' ExitCode=\K[0-9]+' | head -1; }

# --- data: 4 small synthetic pairs; reference outputs of one process on one node (no Slurm) ---
OPTS=(--params "$SRC/tests/slurm/fast_affine.txt" --elastix-threads 1 --mem-budget 512MiB --backend cpu)
export ALINIFY=$BIN
mkdir -p "$T/ref"
for s in 1 2 3 4; do
  "$BIN" synth --out-dir "$T/data/p$s" --width 600 --height 450 --seed "$s" >/dev/null 2>&1 || fail "synth"
  "$BIN" run --design "$T/data/p$s/design.tif" --scan "$T/data/p$s/scan.tif" --out "$T/ref/p$s.tif" "${OPTS[@]}" \
    >"$T/ref/p$s.log" 2>&1 || fail "reference run p$s: $(tail -3 "$T/ref/p$s.log")"
done
ranks() {  # metrics.json -> one line per rank: rank host local_rank local_size budget_bytes
  python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["ranks"]:
    print(r["rank"], r["host"], r["local_rank"], r["local_size"], r["budget_bytes"])' "$1"
}

# (a0) sanity: srun and mpirun inside a 2-node allocation see both hostnames
mkdir -p "$T/a"
j=$(sbatch --parsable -N 2 --ntasks-per-node=1 -o "$T/a/hosts.log" \
    --wrap 'srun --mpi=pmix hostname | sort | tr "\n" " "; echo; mpirun hostname | sort | tr "\n" " "; echo') || fail "sbatch (a0)"
wait_job "$j" 120; s=$ST; [ "$s" = COMPLETED ] || { cat "$T/a/hosts.log"; fail "(a0) ended $s"; }
[ "$(sed -n 1p "$T/a/hosts.log")" = "node1 node2 " ] || { cat "$T/a/hosts.log"; fail "(a0) srun: not node1 and node2"; }
[ "$(sed -n 2p "$T/a/hosts.log")" = "node1 node2 " ] || { cat "$T/a/hosts.log"; fail "(a0) mpirun: not node1 and node2"; }
echo "ok (a0) srun and mpirun in sbatch -N 2 run on node1 and node2"

# (a, b) one pair, one rank on each node: pair.sbatch (srun --mpi=pmix) and mpirun in the allocation;
# each rank's host, place on its node and budget in metrics.json; the bytes equal one process's.
ja=$(sbatch --parsable -N 2 --ntasks-per-node=1 -o "$T/a/srun.log" "$SRC/slurm/pair.sbatch" \
     "$T/data/p1/design.tif" "$T/data/p1/scan.tif" "$T/a/p1.tif" "${OPTS[@]}") || fail "sbatch (a)"
jm=$(sbatch --parsable -N 2 --ntasks-per-node=1 -o "$T/a/mpirun.log" --wrap "mpirun '$BIN' run \
     --design '$T/data/p1/design.tif' --scan '$T/data/p1/scan.tif' --out '$T/a/p1-mpirun.tif' ${OPTS[*]}") ||
  fail "sbatch (a) mpirun"
for j in "$ja:srun" "$jm:mpirun"; do
  wait_job "${j%%:*}" 240; s=$ST; [ "$s" = COMPLETED ] || { cat "$T/a/${j#*:}.log"; fail "(a) ${j#*:} ended $s"; }
done
for v in "p1:srun" "p1-mpirun:mpirun"; do
  m="$T/a/${v%%:*}.metrics.json"
  [ -f "$m" ] || { cat "$T/a/${v#*:}.log"; fail "(a) ${v#*:}: no $m"; }
  ranks "$m" > "$T/a/${v#*:}.ranks" || fail "(a) ${v#*:}: metrics.json without the rank map"
  sed "s/^/(a) ${v#*:}: rank host local_rank local_size budget: /" "$T/a/${v#*:}.ranks"
  [ "$(cut -d' ' -f1-4 "$T/a/${v#*:}.ranks" | tr '\n' ' ')" = "0 node1 0 1 1 node2 0 1 " ] ||
    fail "(a) ${v#*:}: ranks not one on node1 and one on node2 (local rank 0 of 1 each)"
  awk '$5 <= 0 {exit 1}' "$T/a/${v#*:}.ranks" || fail "(a) ${v#*:}: a rank without a memory budget"
  grep -q 'rank 1 on node2 (local rank 0 of 1' "$T/a/${v#*:}.log" || fail "(a) ${v#*:}: no log line of rank 1 on node2"
done
echo "ok (a) alinify run under srun and under mpirun: rank 0 on node1, rank 1 on node2"
cmp "$T/a/p1.tif" "$T/ref/p1.tif" || fail "(b) two nodes (srun) and one process wrote different bytes"
cmp "$T/a/p1-mpirun.tif" "$T/ref/p1.tif" || fail "(b) two nodes (mpirun) and one process wrote different bytes"
echo "ok (b) alinify run across two nodes: output identical (cmp) to one process on one node"

# (a2) 3 ranks over 2 nodes (2 on node1, 1 on node2), no --mem-budget, the job's memory from Slurm
# (--mem: SLURM_MEM_PER_NODE on every node): each node shares it among its own ranks, so the budget
# is a half on node1 and the whole on node2; the output still equals one process's.
OPTS2=(--params "$SRC/tests/slurm/fast_affine.txt" --elastix-threads 1 --backend cpu)
j=$(sbatch --parsable -N 2 -n 3 --ntasks-per-node=2 --mem=1200M -o "$T/a/uneven.log" "$SRC/slurm/pair.sbatch" \
    "$T/data/p2/design.tif" "$T/data/p2/scan.tif" "$T/a/p2.tif" "${OPTS2[@]}") || fail "sbatch (a2)"
wait_job "$j" 240
[ "$ST" = COMPLETED ] || { cat "$T/a/uneven.log"; fail "(a2) ended $ST"; }
ranks "$T/a/p2.metrics.json" > "$T/a/uneven.ranks" || fail "(a2) metrics.json without the rank map"
sed "s/^/(a2) rank host local_rank local_size budget: /" "$T/a/uneven.ranks"
mib=$((1024 * 1024))
[ "$(tr '\n' ' ' < "$T/a/uneven.ranks")" = "0 node1 0 2 $((600 * mib)) 1 node1 1 2 $((600 * mib)) 2 node2 0 1 $((1200 * mib)) " ] ||
  fail "(a2) not ranks 0, 1 on node1 with 600 MiB each and rank 2 on node2 with 1200 MiB"
cmp "$T/a/p2.tif" "$T/ref/p2.tif" || fail "(a2) 3 ranks on two nodes and one process wrote different bytes"
echo "ok (a2) 3 ranks on two nodes: node1's 2 ranks 600 MiB each, node2's rank 1200 MiB (--mem 1200M), output identical"

# (c) a batch, one group per node (2 ranks a node): each job's ranks share a node, both nodes work
manifest() {  # folder copies: a manifest there (absolute inputs, outputs relative to it)
  mkdir -p "$1"
  {
    echo "id,design,scan,out"
    for c in $(seq "$2"); do
      for s in 1 2 3 4; do echo "p$s-$c,$T/data/p$s/design.tif,$T/data/p$s/scan.tif,out/p$s-$c.tif"; done
    done
  } > "$1/jobs.csv"
}
same_as_ref() {  # folder copies
  for c in $(seq "$2"); do
    for s in 1 2 3 4; do cmp -s "$1/out/p$s-$c.tif" "$T/ref/p$s.tif" || return 1; done
  done
}
manifest "$T/c" 1
jc=$(sbatch --parsable -N 2 --ntasks-per-node=2 -o "$T/c/slurm.log" "$SRC/slurm/batch.sbatch" "$T/c/jobs.csv" \
     "${OPTS[@]}") || fail "sbatch (c)"
wait_job "$jc" 300; sc=$ST
[ "$(exitcode "$jc")" = 0 ] || { cat "$T/c/slurm.log"; fail "(c) batch exit $(exitcode "$jc") ($sc)"; }
grep -q 'batch: 2 group(s) of up to 2 rank(s)' "$T/c/slurm.log" || { cat "$T/c/slurm.log"; fail "(c) not 2 groups of 2 ranks"; }
[ "$(grep -c '"event":"done"' "$T/c/jobs.journal.jsonl")" = 4 ] || fail "(c) journal: not 4 done"
: > "$T/c/job-hosts"
for s in 1 2 3 4; do
  ranks "$T/c/out/p$s-1.metrics.json" > "$T/c/p$s.ranks" || fail "(c) p$s: no rank map"
  [ "$(cut -d' ' -f2 "$T/c/p$s.ranks" | sort -u | wc -l)" = 1 ] || fail "(c) p$s: a group spans two nodes"
  [ "$(cut -d' ' -f3,4 "$T/c/p$s.ranks" | sort | tr '\n' ' ')" = "0 2 1 2 " ] || fail "(c) p$s: local ranks not 0 and 1 of 2"
  group=$(grep '"event":"started"' "$T/c/jobs.journal.jsonl" | grep "\"id\":\"p$s-1\"" | grep -oP '"group":\K[0-9]+')
  echo "p$s group $group $(head -1 "$T/c/p$s.ranks" | cut -d' ' -f2)" >> "$T/c/job-hosts"
done
sed 's/^/(c) job /' "$T/c/job-hosts"
[ "$(cut -d' ' -f4 "$T/c/job-hosts" | sort -u | tr '\n' ' ')" = "node1 node2 " ] || fail "(c) the jobs did not run on both nodes"
[ "$(cut -d' ' -f3,4 "$T/c/job-hosts" | sort -u | wc -l)" = 2 ] || fail "(c) a group's jobs ran on two nodes"
same_as_ref "$T/c" 1 || fail "(c) batch outputs differ from one process's"
echo "ok (c) batch: 2 groups of 2 ranks, $(cut -d' ' -f3,4 "$T/c/job-hosts" | sort -u | sed 's/^/group /; s/ node/ on node/' | paste -sd, | sed 's/,/, /'), outputs identical to one process's"

# (d) a 2-task job array, one task per node (--exclusive; --no-requeue so that the lost task stays
# failed); every process of task 1's node (its slurmd, slurmstepd, the rank, elastix) killed once
# its shard has finished a job: that task fails, the other finishes, and the same submission
# after the node is back resumes without redoing a finished job.
manifest "$T/d" 2
ARRAY=(--array=0-1 --exclusive --no-requeue -N 1 --ntasks=1 -o "$T/d/slurm-%A_%a.log"
       "$SRC/slurm/batch_array.sbatch" "$T/d/jobs.csv" --group-size 1 "${OPTS[@]}")
J0=$T/d/jobs.shard-0-of-2.journal.jsonl
J1=$T/d/jobs.shard-1-of-2.journal.jsonl
jd=$(sbatch --parsable "${ARRAY[@]}") || fail "sbatch (d)"
for _ in $(seq 1800); do
  grep -q '"event":"done"' "$J1" 2>/dev/null && break
  sleep 0.1
done
grep -q '"event":"done"' "$J1" 2>/dev/null || fail "(d) shard 1 finished no job"
lost=$(scontrol show job "${jd}_1" | grep -oP ' NodeList=\Knode[12]' | head -1)
kept=$(scontrol show job "${jd}_0" | grep -oP ' NodeList=\Knode[12]' | head -1)
[ -n "$lost" ] && [ -n "$kept" ] && [ "$lost" != "$kept" ] || fail "(d) the tasks did not run on two nodes ($kept, $lost)"
i=$((${lost#node} - 1))
for p in $(ip netns pids "${NS[$i]}"); do kill -9 "$p" 2>/dev/null; done
t_kill=$SECONDS
done_before=$(grep '"event":"done"' "$J1" | grep -oP '"id":"\K[^"]+' | sort)
echo "(d) killed every process of $lost (task 1) after shard 1 finished: $(echo $done_before)"
wait_job "${jd}_0" 300; s0=$ST
[ "$s0" = COMPLETED ] && [ "$(exitcode "${jd}_0")" = 0 ] || fail "(d) task 0 on $kept ended $s0, exit $(exitcode "${jd}_0")"
[ "$(grep -c '"event":"done"' "$J0")" = 4 ] || fail "(d) task 0 did not finish its 4 jobs"
wait_job "${jd}_1" 180; s1=$ST
case "$s1" in NODE_FAIL|FAILED|CANCELLED) ;; *) fail "(d) task 1 on the lost node ended $s1";; esac
[ "$(grep -c '"event":"done"' "$J1")" -lt 4 ] || fail "(d) the node was lost after shard 1 had finished"
echo "ok (d) node $lost lost: its task ended $s1 $((SECONDS - t_kill)) s after the kill; task 0 on $kept finished its 4 jobs"
bring_back "$i" d
lines0=$(wc -l < "$J0")
lines1=$(wc -l < "$J1")
jd2=$(sbatch --parsable "${ARRAY[@]}") || fail "sbatch (d) again"
for t in 0 1; do
  wait_job "${jd2}_$t" 300; st=$ST
  [ "$st" = COMPLETED ] && [ "$(exitcode "${jd2}_$t")" = 0 ] ||
    { cat "$T"/d/slurm-"${jd2}"_*.log; fail "(d) resubmitted task $t ended $st, exit $(exitcode "${jd2}_$t")"; }
done
tail -n +"$((lines0 + 1))" "$J0" > "$T/d/resumed0.jsonl"
tail -n +"$((lines1 + 1))" "$J1" > "$T/d/resumed1.jsonl"
grep -q '"event":"started"' "$T/d/resumed0.jsonl" && fail "(d) task 0 started a job again"
grep -q '"event":"started"' "$T/d/resumed1.jsonl" || fail "(d) the resumed shard 1 started no job"
for id in $done_before; do
  grep -q "\"event\":\"started\".*\"id\":\"$id\"" "$T/d/resumed1.jsonl" && fail "(d) $id was done before the loss and was started again"
done
[ "$(grep '"event":"done"' "$J1" | grep -oP '"id":"\K[^"]+' | sort -u | wc -l)" = 4 ] || fail "(d) shard 1 not 4 jobs done"
same_as_ref "$T/d" 2 || fail "(d) outputs after the node loss and resume differ from one process's"
echo "ok (d) resubmitted: shard 1 resumed $(grep -c '"event":"started"' "$T/d/resumed1.jsonl") job(s), none redone; all 8 outputs identical to one process's"
# (e) one batch job over both nodes (a group of 1 rank on each, --no-requeue so that it stays
# failed; Slurm would otherwise requeue it by itself); node2 and all its processes killed once a
# job is done: node1's group goes on with the manifest, the job ends NODE_FAIL when Slurm notices,
# and the same submission once node2 is back redoes only the jobs not done.
manifest "$T/e" 3
J=$T/e/jobs.journal.jsonl
BATCH2=(--no-requeue -N 2 --ntasks-per-node=1 "$SRC/slurm/batch.sbatch" "$T/e/jobs.csv" "${OPTS[@]}")
# e_diagnose ID: what a failure of (e) needs to be understood (a CI run once saw no job finish in
# 180 s, with only the daemons' logs to go by).
e_diagnose() {
  echo "--- scontrol show job $1"; scontrol show job "$1" 2>&1 | head -20
  echo "--- $T/e/slurm-1.log"; tail -n 40 "$T/e/slurm-1.log" 2>&1
  echo "--- $J"; tail -n 20 "$J" 2>&1
  for i in 0 1; do
    echo "--- processes in ${NS[$i]}"
    for p in $(ip netns pids "${NS[$i]}"); do ps -o pid=,etimes=,stat=,args= -p "$p" 2>/dev/null | cut -c1-160; done
  done
}
# e_first_done ID: waits up to 180 s for the journal's first finished job while the job runs.
# Returns 2 when the job ran for 60 s and the journal has no started job: its two ranks did not get
# through start-up across the nodes (srun, PMIx, MPI_Init: before alinify's first job).
e_first_done() {
  local t_run=
  for _ in $(seq 180); do
    grep -q '"event":"done"' "$J" 2>/dev/null && return 0
    case "$(state "$1")" in
      RUNNING) t_run=${t_run:-$SECONDS};;
      PENDING|CONFIGURING) ;;
      *) return 1;;
    esac
    if [ -n "$t_run" ] && [ $((SECONDS - t_run)) -ge 60 ] && ! grep -q '"event":"started"' "$J" 2>/dev/null; then
      return 2
    fi
    sleep 1
  done
  return 1
}
je=$(sbatch --parsable -o "$T/e/slurm-1.log" "${BATCH2[@]}") || fail "sbatch (e)"
e_first_done "$je"; r=$?
if [ $r = 2 ]; then
  # Seen neither here nor on a real cluster, but a start-up that hangs is Slurm's and Open MPI's
  # between namespaces, not the batch's: say so, cancel and submit once more. A second hang fails.
  e_diagnose "$je"
  echo "(e) note: no job started 60 s into the 2-node job $je (start-up across the nodes hung); cancelled, submitted again"
  scancel "$je"; wait_job "$je" 60
  rm -f "$J" "$T/e/slurm-1.log"
  je=$(sbatch --parsable -o "$T/e/slurm-1.log" "${BATCH2[@]}") || fail "sbatch (e) after a hung start-up"
  e_first_done "$je"; r=$?
fi
[ $r = 0 ] || { e_diagnose "$je"; fail "(e) no job finished (state $(state "$je"))"; }
for p in $(ip netns pids "${NS[1]}"); do kill -9 "$p" 2>/dev/null; done
t_kill=$SECONDS
lines_kill=$(wc -l < "$J")
wait_job "$je" 180
[ "$ST" = NODE_FAIL ] || { cat "$T/e/slurm-1.log"; fail "(e) the job ended $ST, expected NODE_FAIL"; }
after=$(tail -n +"$((lines_kill + 1))" "$J" | grep '"event":"done"' | grep -c '"group":0')
[ "$after" -ge 1 ] || fail "(e) node1's group finished no job after node2 was lost"
done_before=$(grep '"event":"done"' "$J" | grep -oP '"id":"\K[^"]+' | sort)
echo "ok (e) node2 lost during a 2-node batch: node1's group finished $after more job(s), the job ended NODE_FAIL $((SECONDS - t_kill)) s after the kill, $(echo $done_before | wc -w) of 12 done"
bring_back 1 e
lines=$(wc -l < "$J")
je2=$(sbatch --parsable -o "$T/e/slurm-2.log" "${BATCH2[@]}") || fail "sbatch (e) again"
wait_job "$je2" 300
[ "$ST" = COMPLETED ] && [ "$(exitcode "$je2")" = 0 ] || { cat "$T/e/slurm-2.log"; fail "(e) resubmitted batch ended $ST"; }
tail -n +"$((lines + 1))" "$J" > "$T/e/resumed.jsonl"
for id in $done_before; do
  grep -q "\"event\":\"started\".*\"id\":\"$id\"" "$T/e/resumed.jsonl" && fail "(e) $id was done before the loss and was started again"
done
[ "$(grep '"event":"done"' "$J" | grep -oP '"id":"\K[^"]+' | sort -u | wc -l)" = 12 ] || fail "(e) not 12 jobs done"
same_as_ref "$T/e" 3 || fail "(e) outputs after the node loss and resume differ from one process's"
echo "ok (e) resubmitted: $(grep -c '"event":"started"' "$T/e/resumed.jsonl") job(s) redone, none of the done ones; all 12 outputs identical to one process's"
echo "PASS (${SECONDS} s)"
