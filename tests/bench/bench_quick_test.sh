#!/usr/bin/env bash
# bench/run.sh --quick into a cache under the build folder, then check_quick.py on what it wrote.
# usage: bench_quick_test.sh REPO_ROOT CACHE_DIR   (ALINIFY_BIN names the binary)
set -euo pipefail
root=$1 cache=$2
bash "$root/bench/run.sh" --quick --cache "$cache" --json "$cache/quick.json"
python3 "$root/tests/bench/check_quick.py" "$cache/quick.json" "$cache/2000x1500/performance.md"
