#!/usr/bin/env bash
# Side-by-side benchmark on one synthetic pair, in one invocation: the I/O floor, alinify warp
# (1 and 2 ranks, bilinear and bicubic), gdalwarp against alinify on the same affine transform,
# transformix on one band, and registration at several resolutions. Every figure is the median
# of --repeats runs with its peak RSS (largest single process, /usr/bin/time).
#
#   bench/run.sh [--size 18960x14960] [--cache DIR] [--repeats 3] [--no-registration-table]
#
# Inputs are generated with `alinify synth` into the cache folder (outside the repository) when
# missing and reused afterwards. Results: <cache>/results-<size>.md (also printed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
A=${ALINIFY_BIN:-$ROOT/build/bin/alinify}
SIZE=18960x14960
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/alinify-bench
REPEATS=3
REG_TABLE=1
while (($#)); do
  case $1 in
    --size) SIZE=$2; shift 2 ;;
    --cache) CACHE=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --no-registration-table) REG_TABLE=0; shift ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 1 ;;
  esac
done
W=${SIZE%x*}; H=${SIZE#*x}
[ -x "$A" ] || { echo "no alinify binary at $A: run ./dev build first" >&2; exit 1; }
for t in gdal_translate gdalwarp gdalinfo transformix python3 mpirun; do
  command -v $t >/dev/null || { echo "$t not found" >&2; exit 1; }
done
NP_FLAGS=(--oversubscribe); [ "$(id -u)" -ne 0 ] || NP_FLAGS+=(--allow-run-as-root)
D=$CACHE/$SIZE
mkdir -p "$D/out" "$D/logs"
OUT=$CACHE/results-$SIZE.md
log() { printf '[bench] %s\n' "$*" >&2; }

# measure LABEL CMD...: median wall seconds and max peak RSS over REPEATS runs -> a table row.
measure() {
  local label=$1; shift
  local times=() rss=0
  for ((i = 0; i < REPEATS; i++)); do
    local logf="$D/logs/$(echo "$label" | tr -c 'A-Za-z0-9' _).log"
    /usr/bin/time -f "%e %M" -o "$D/time.txt" "$@" >"$logf" 2>&1 || {
      log "FAILED: $label (see $logf)"; echo "| $label | failed | | |" >>"$OUT"; return 0; }
    read -r t m <"$D/time.txt"
    times+=("$t"); ((m > rss)) && rss=$m
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$med" >"$D/last_median"
  printf '| %s | %.2f | %.0f | %s |\n' "$label" "$med" "$((rss / 1024))" "$(printf '%s ' "${times[@]}")" >>"$OUT"
  log "$label: median ${med}s, peak RSS $((rss / 1024)) MiB"
}

# --- inputs ---------------------------------------------------------------------------------
if [ ! -f "$D/pair/truth.json" ]; then
  log "synthesising a ${W}x${H} pair in $D/pair"
  "$A" synth --out-dir "$D/pair" --width "$W" --height "$H" --seed 1 >"$D/synth.log" 2>&1
fi
if [ ! -f "$D/t.json" ]; then
  log "registering once (the transform every warp below uses)"
  "$A" register --design "$D/pair/design.tif" --scan "$D/pair/scan.tif" --out "$D/t.json" >"$D/register.log" 2>&1
fi
# The affine part of the chain, composed into one matrix (for gdalwarp and its like-for-like pair).
python3 "$ROOT/bench/affine_part.py" "$D/t.json" "$D/affine.json" "$D/pair/scan.tif" "$D/scan_affine.vrt"

{
  echo "# alinify benchmark, ${W}x${H} RGB ($(date -u +%F), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB)"
  echo
  echo "median of $REPEATS runs; peak RSS = largest single process (/usr/bin/time %M)"
  echo
  echo "| what | median s | peak RSS MiB | runs (s) |"
  echo "|---|---|---|---|"
} >"$OUT"

# warp NP INTERP TRANSFORM OUT: the command line of an alinify warp (measure runs it directly).
warp() {
  WARP=(mpirun "${NP_FLAGS[@]}" -np "$1" "$A" warp --design "$D/pair/design.tif" --scan "$D/pair/scan.tif"
        --transform "$3" --out "$4" --interp "$2" --backend cpu)
}

# 1. The floor: copying the scan to the same format and layout moves the same bytes.
measure "I/O floor: gdal_translate copy (tiled 256, BigTIFF)" \
  gdal_translate -q -co TILED=YES -co BIGTIFF=YES -co BLOCKXSIZE=256 -co BLOCKYSIZE=256 \
  "$D/pair/scan.tif" "$D/out/copy.tif"
floor=$(cat "$D/last_median")
# 2. alinify warp with the registered transform (affine + B-spline).
for interp in bilinear bicubic; do
  for np in 1 2; do
    warp $np $interp "$D/t.json" "$D/out/w.tif"
    measure "alinify warp, $interp, -np $np (affine + B-spline)" "${WARP[@]}"
  done
done
# 3. Like for like: gdalwarp and alinify on the same affine, same grid, same interpolation.
for interp in bilinear bicubic; do
  measure "gdalwarp, affine, $interp, -multi ALL_CPUS, -wm 1024" \
    gdalwarp -q -overwrite -multi -wo NUM_THREADS=ALL_CPUS -wm 1024 -r "${interp/bicubic/cubic}" -te 0 "-$H" "$W" 0 -tr 1 1 \
    -co TILED=YES -co BIGTIFF=YES "$D/scan_affine.vrt" "$D/out/gdalwarp_$interp.tif"
  warp 2 $interp "$D/affine.json" "$D/out/affine_$interp.tif"
  measure "alinify warp, affine only, $interp, -np 2" "${WARP[@]}"
done
# 4. transformix: the full-resolution TransformParameters file alinify writes, one band at full
#    size (transformix resamples one scalar image per run: RGB needs three runs).
if [ ! -f "$D/scan_band1.mhd" ]; then  # band 1 as raw bytes + a MetaImage header transformix reads
  gdal_translate -q -b 1 -of ENVI "$D/pair/scan.tif" "$D/scan_band1.raw"
  printf 'ObjectType = Image\nNDims = 2\nDimSize = %s %s\nElementType = MET_UCHAR\nElementSpacing = 1 1\nOffset = 0 0\nElementDataFile = scan_band1.raw\n' \
    "$W" "$H" >"$D/scan_band1.mhd"
fi
band=$D/scan_band1.mhd
last_tp=$(ls "$D"/t.elastix/TransformParameters.full.*.txt | sort -V | tail -1)
mkdir -p "$D/transformix"
measure "transformix, one band (of 3), affine + B-spline, full resolution" \
  transformix -in "$band" -tp "$last_tp" -out "$D/transformix"

echo >>"$OUT"
echo "I/O floor: ${floor} s. Ratios: divide a row's median by the floor." >>"$OUT"

# 6. Registration: elastix time, peak RSS and error against resolution.
if ((REG_TABLE)); then
  {
    echo
    echo "## Registration against resolution (preset bspline)"
    echo
    echo "| registration pixels (each image) | factor | elastix s | elastix peak RSS | mean px | p95 px |"
    echo "|---|---|---|---|---|---|"
  } >>"$OUT"
  for mp in 1000000 4000000 16000000 64000000 planner; do
    extra=(); [ "$mp" = planner ] || extra=(--registration-max-pixels "$mp")
    "$A" register --design "$D/pair/design.tif" --scan "$D/pair/scan.tif" --out "$D/reg_$mp.json" \
      "${extra[@]}" >"$D/reg_$mp.log" 2>&1 || { echo "| $mp | failed | | | | |" >>"$OUT"; continue; }
    ev=$("$A" eval --transform "$D/reg_$mp.json" --truth "$D/pair/truth.json" 2>/dev/null)
    python3 - "$D/reg_$mp.log" "$ev" "$mp" >>"$OUT" <<'PY'
import json, re, sys
log = open(sys.argv[1]).read()
ev = json.loads(sys.argv[2])
plan = re.search(r"register at 1/(\d+) \(design (\d+)x(\d+)", log)
elx = re.search(r"elastix finished in ([\d.]+) s, peak RSS ([\d.]+ \w+)", log)
px = int(plan.group(2)) * int(plan.group(3))
print(f"| {px/1e6:.1f} MP ({sys.argv[3]}) | {plan.group(1)} | {elx.group(1)} | {elx.group(2)} | {ev['mean']:.3f} | {ev['p95']:.3f} |")
PY
  done
fi
cat "$OUT"
