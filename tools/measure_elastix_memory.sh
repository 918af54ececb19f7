#!/usr/bin/env bash
# Measures the peak RSS of the elastix child process (Debian's elastix 5.0.1) with alinify's presets
# as a function of the registration image size, and prints one table row per run.
#
#   tools/measure_elastix_memory.sh ALINIFY_BINARY CACHE_DIR [WIDTH HEIGHT] [FACTORS] [PRESETS]
#
#   ALINIFY_BINARY  path of the alinify executable (e.g. build/bin/alinify)
#   CACHE_DIR       folder for the synthetic pair and the runs; the pair is made once and reused
#   WIDTH HEIGHT    size of the synthetic pair (default 6000 4500)
#   FACTORS         decimation factors to register at, quoted list (default "8 6 4 3 2")
#   PRESETS         quoted list (default "affine bspline")
#
# Each run is `alinify register --registration-max-pixels N` with N = ceil(W*H/f^2), which makes the
# planner choose exactly factor f (the memory budget of the machine must be larger than the
# estimate, which it is on any machine with a few GiB free at these sizes). The figures come from
# alinify's own log line "elastix finished in X s, peak RSS Y" (ru_maxrss of the child from wait4).
# The fit of docs/memory_budget.md is least squares of peak = a + b * (fixed + moving pixels) per
# preset over the rows printed here (the script prints the fit too when python3 is present).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  sed -n '2,12p' "$0" >&2
  exit 1
fi
BIN=$1
CACHE=$2
W=${3:-6000}
H=${4:-4500}
FACTORS=${5:-"8 6 4 3 2"}
PRESETS=${6:-"affine bspline"}

PAIR="$CACHE/pair_${W}x${H}"
mkdir -p "$PAIR"
if [[ ! -f "$PAIR/design.tif" || ! -f "$PAIR/scan.tif" ]]; then
  "$BIN" synth --out-dir "$PAIR" --width "$W" --height "$H" --seed 1 >"$PAIR/synth.log" 2>&1
fi

# MiB from alinify's format_bytes text ("112.4 MiB", "1.23 GiB", "900 KiB").
to_mib() {
  awk -v v="$1" -v u="$2" 'BEGIN { m = (u == "GiB") ? 1024 : (u == "KiB") ? 1 / 1024 : (u == "B") ? 1 / 1048576 : 1; printf "%.1f", v * m }'
}

ROWS="$CACHE/rows.tsv"
: >"$ROWS"
printf '%-8s %-12s %-12s %-10s %12s %10s %14s\n' factor design_reg scan_reg preset reg_MPix elastix_s peak_RSS_MiB
for preset in $PRESETS; do
  for f in $FACTORS; do
    # The planner's cap is on the larger image: ceil(W*H/f^2) gives exactly factor f.
    n=$(((W * H + f * f - 1) / (f * f)))
    out="$PAIR/${preset}_f${f}.json"
    log="$PAIR/${preset}_f${f}.log"
    "$BIN" register --design "$PAIR/design.tif" --scan "$PAIR/scan.tif" --out "$out" \
      --preset "$preset" --registration-max-pixels "$n" --refine none >"$log" 2>&1 || {
      echo "run failed: $preset f=$f, see $log" >&2
      continue
    }
    plan=$(grep -m1 ' plan: ' "$log")
    got_f=$(sed -E 's/.*register at 1\/([0-9]+).*/\1/' <<<"$plan")
    dsz=$(sed -E 's/.*\(design ([0-9]+x[0-9]+), scan.*/\1/' <<<"$plan")
    ssz=$(sed -E 's/.*, scan ([0-9]+x[0-9]+)\).*/\1/' <<<"$plan")
    fin=$(grep -m1 'elastix finished in' "$log")
    secs=$(sed -E 's/.*elastix finished in ([0-9.]+) s.*/\1/' <<<"$fin")
    rss_v=$(sed -E 's/.*peak RSS ([0-9.]+) ([KMG]?i?B).*/\1/' <<<"$fin")
    rss_u=$(sed -E 's/.*peak RSS ([0-9.]+) ([KMG]?i?B).*/\2/' <<<"$fin")
    rss=$(to_mib "$rss_v" "$rss_u")
    px=$((${dsz%x*} * ${dsz#*x} + ${ssz%x*} * ${ssz#*x}))
    mpix=$(awk -v p="$px" 'BEGIN { printf "%.3f", p / 1e6 }')
    printf '%-8s %-12s %-12s %-10s %12s %10s %14s\n' "$got_f" "$dsz" "$ssz" "$preset" "$mpix" "$secs" "$rss"
    printf '%s\t%s\t%s\t%s\n' "$preset" "$px" "$secs" "$rss" >>"$ROWS"
  done
done

if command -v python3 >/dev/null; then
  python3 - "$ROWS" <<'EOF'
import sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    preset, px, secs, rss = line.split("\t")
    rows[preset].append((float(px), float(rss) * 1048576))
print()
print("least squares fit: peak RSS = a + b * (fixed + moving pixels)")
for preset, pts in rows.items():
    n = len(pts)
    if n < 2:
        continue
    mx = sum(p for p, _ in pts) / n
    my = sum(r for _, r in pts) / n
    sxx = sum((p - mx) ** 2 for p, _ in pts)
    b = sum((p - mx) * (r - my) for p, r in pts) / sxx
    a = my - b * mx
    worst = max(r - (a + b * p) for p, r in pts)
    print(f"  {preset:8s} a = {a / 1048576:7.1f} MiB  b = {b:6.2f} bytes/pixel  "
          f"(largest residual above the fit {worst / 1048576:.1f} MiB, {n} points)")
EOF
fi
