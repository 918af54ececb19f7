#!/usr/bin/env bash
# run_fuzz.sh FUZZER SECONDS WORKDIR SEED_DIR...
#   SECONDS > 0: fuzz for SECONDS from the seeds (new inputs kept in WORKDIR/corpus, crashes in
#                WORKDIR/crash-*), print the executions, fail on any crash, leak, timeout or
#                sanitizer report.
#   SECONDS = 0: run each file of the seed folders once (the regression inputs), fail on any report.
set -euo pipefail
fuzzer=$1 seconds=$2 work=$3
shift 3
mkdir -p "$work/corpus"
log=$work/fuzz.log
common=(-rss_limit_mb=2048 -timeout=10 -max_len=65536 -artifact_prefix="$work/" -print_final_stats=1)
if [ "$seconds" -gt 0 ]; then
  dirs=()
  for d in "$@"; do [ ! -d "$d" ] || dirs+=("$d"); done
  set +e
  "$fuzzer" "${common[@]}" -max_total_time="$seconds" "$work/corpus" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  set -e
else
  files=()
  for d in "$@"; do
    [ -d "$d" ] || continue
    while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$d" -type f -print0 | sort -z)
  done
  if [ ${#files[@]} -eq 0 ]; then
    echo "no regression inputs in $*"
    exit 0
  fi
  set +e
  "$fuzzer" "${common[@]}" "${files[@]}" >"$log" 2>&1
  rc=$?
  set -e
  echo "ran ${#files[@]} regression inputs"
fi
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs|#[0-9]+ *DONE)' "$log" || true
if [ "$rc" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|FUZZ FINDING' "$log"; then
  echo "FUZZ FAILURE (exit $rc); log $log:" >&2
  grep -nE 'ERROR|runtime error|FUZZ FINDING|SUMMARY|Test unit written|^ *#[0-9]+ 0x' "$log" | head -60 >&2
  exit 1
fi
echo "fuzz: no crash, leak, timeout or sanitizer report (log $log)"
