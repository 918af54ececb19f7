#!/usr/bin/env bash
# Side-by-side benchmark on one synthetic pair, in one invocation: the I/O floor, alinify warp
# (1 and 2 ranks, bilinear and bicubic), gdalwarp against alinify on the same affine transform,
# transformix on one band, and registration at several resolutions. Every figure is the median
# of --repeats runs with its peak RSS (largest single process, /usr/bin/time).
#
#   bench/run.sh [--size 18960x14960] [--cache DIR] [--repeats 3] [--no-registration-table]
#                [--json FILE] [--doc docs/performance.md] [--previous FILE] [--quick] [--python-route] [--finish]
#
# --previous FILE: an earlier run's JSON (e.g. a copy of the committed bench/results one); the report
# shows its medians beside this run's, row by row.
# --finish: only the JSON and the report, from the rows an earlier run left in the cache folder.
#
# Rows that run a whole registration (alinify run, transformix, the Python route) are measured
# --heavy-repeats times (default 1): each takes minutes at full size. --python-route also measures
# the earlier tool's way (PyPI's itk-elastix at 1024 px + torch grid_sample on the whole image) in a
# virtual environment under the cache folder.
#
# --quick: a 2000x1500 pair, one run each, the whole job at 2 ranks only, registration table at
# 0.25 MP only: a few minutes (the test suite runs it and checks the JSON, never the times).
# Inputs are generated with `alinify synth` into the cache folder (outside the repository) when
# missing and reused afterwards. Results: <cache>/results-<size>.md (also printed) and JSON
# (--json, default <cache>/results-<size>.json): machine, versions, and per row the command,
# the runs, median/min/max seconds and peak RSS; bench/report.py turns it into markdown
# (<cache>/<size>/performance.md, and --doc FILE for a full run: docs/performance.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
A=${ALINIFY_BIN:-$ROOT/build/bin/alinify}
SIZE=18960x14960
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/alinify-bench
REPEATS=3
HEAVY_REPEATS=1
PY_ROUTE=0
FINISH=0
REG_TABLE=1
QUICK=0
JSON=
PREVIOUS=
while (($#)); do
  case $1 in
    --quick) QUICK=1; SIZE=2000x1500; REPEATS=1; shift ;;
    --json) JSON=$2; shift 2 ;;
    --doc) DOC=$2; shift 2 ;;
    --previous) PREVIOUS=$(realpath "$2"); shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --cache) CACHE=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --heavy-repeats) HEAVY_REPEATS=$2; shift 2 ;;
    --python-route) PY_ROUTE=1; shift ;;
    --finish) FINISH=1; shift ;;
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
JSON=${JSON:-$CACHE/results-$SIZE.json}
ROWS=$D/rows.jsonl
((FINISH)) || : >"$ROWS"
FAILED=0
log() { printf '[bench] %s\n' "$*" >&2; }
# row LABEL MEDIAN RSS_KB RUNS... -- CMD...: one JSON line per measured row.
row() {
  python3 - "$ROWS" "$@" <<'PY'
import json, sys
path, label, med, rss = sys.argv[1:5]
rest = sys.argv[5:]
cut = rest.index("--")
runs = [float(t) for t in rest[:cut]]
with open(path, "a") as f:
    f.write(json.dumps({"label": label, "median_s": float(med), "min_s": min(runs), "max_s": max(runs),
                        "runs_s": runs, "peak_rss_mib": round(int(rss) / 1024, 1), "command": rest[cut + 1:]}) + "\n")
PY
}

# measure LABEL CMD...: median wall seconds and max peak RSS over REPEATS runs (REPS=N measure ...
# for another count) -> a table row.
measure() {
  local label=$1; shift
  local times=() rss=0 reps=${REPS:-$REPEATS}
  for ((i = 0; i < reps; i++)); do
    local logf="$D/logs/$(echo "$label" | tr -c 'A-Za-z0-9' _).log"
    # Every run writes fresh files: removing the previous run's output (an unlink of a written-back
    # 870 MB file took 0.56 s here, of one still in memory 0.08 s) and flushing what is dirty are
    # no row's time. Without this the rows paid for it unevenly, by their outputs' sizes.
    rm -rf "${D:?}/out" && mkdir -p "$D/out" && sync
    /usr/bin/time -f "%e %M" -o "$D/time.txt" "$@" >"$logf" 2>&1 || {
      log "FAILED: $label (see $logf)"; echo "| $label | failed | | |" >>"$OUT"; FAILED=$((FAILED + 1))
      python3 -c 'import json,sys; open(sys.argv[1],"a").write(json.dumps({"label":sys.argv[2],"failed":True,"log":sys.argv[3]})+"\n")' \
        "$ROWS" "$label" "$logf"
      return 0; }
    read -r t m <"$D/time.txt"
    times+=("$t"); ((m > rss)) && rss=$m
    ${AFTER_EACH:-true} || log "$label: ${AFTER_EACH:-} failed"  # AFTER_EACH=FUNCTION measure ...: after every successful run
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$med" >"$D/last_median"
  printf '| %s | %.2f | %.0f | %s |\n' "$label" "$med" "$((rss / 1024))" "$(printf '%s ' "${times[@]}")" >>"$OUT"
  row "$label" "$med" "$rss" "${times[@]}" -- "$@"
  log "$label: median ${med}s, peak RSS $((rss / 1024)) MiB"
}

# finish: the JSON (machine, versions, rows; checked to read back: the test suite relies on it) and
# the report, from the rows measured so far (--finish: from an earlier run's rows, measuring nothing).
finish() {
  mkdir -p "$(dirname "$JSON")"
  python3 - "$ROWS" "$JSON" "$SIZE" "$REPEATS" "$A" <<'PY'
import json, os, platform, subprocess, sys, datetime
rows_path, out, size, repeats, alinify = sys.argv[1:6]
rows = [json.loads(l) for l in open(rows_path) if l.strip()]
def cpu_model():  # hosts differ between runs (docs/performance-analysis.md reads runs side by side)
    try:
        return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except Exception:
        return "unknown"
def first_line(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except Exception as e:  # a missing tool is recorded, not fatal
        return f"unavailable ({e})"
doc = {
    "format": "alinify-bench", "version": 1,
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    # repeats: what the rows show (--finish does not know the earlier run's --repeats)
    "size": size, "repeats": max((len(r.get("runs_s", [])) for r in rows), default=int(repeats)),
    "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "cpu_model": cpu_model(),
                "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
    "versions": {"gdal": first_line(["gdalinfo", "--version"]), "elastix": first_line(["elastix", "--version"]),
                 "mpirun": first_line(["mpirun", "--version"]), "alinify": alinify},
    "rows": rows,
}
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
json.load(open(out))
print(f"[bench] {len(doc['rows'])} rows -> {out}", file=sys.stderr)
PY
  python3 "$ROOT/bench/report.py" "$JSON" "$D/performance.md" ${PREVIOUS:+"$PREVIOUS"}
  ((QUICK)) || [ -z "${DOC:-}" ] || python3 "$ROOT/bench/report.py" "$JSON" "$DOC" ${PREVIOUS:+"$PREVIOUS"}  # plots go to images/ beside it
}
if ((FINISH)); then
  [ -s "$ROWS" ] || { echo "--finish: no rows in $ROWS" >&2; exit 1; }
  finish
  exit 0
fi

# --- inputs ---------------------------------------------------------------------------------
if [ ! -f "$D/pair/truth.json" ]; then
  log "synthesising a ${W}x${H} pair in $D/pair"
  "$A" synth --out-dir "$D/pair" --width "$W" --height "$H" --seed 1 >"$D/synth.log" 2>&1
fi
# The transform is cached with the binary that made it: another build registers again (its
# registration is a row of the table below, and the warps should use what this build registers).
bin_id=$(sha256sum "$A" | cut -c1-16)
if [ ! -f "$D/t.json" ] || [ "$(cat "$D/t.json.build" 2>/dev/null)" != "$bin_id" ]; then
  log "registering once (the transform every warp below uses)"
  rm -rf "$D/t.json" "$D/t.elastix"
  "$A" register --design "$D/pair/design.tif" --scan "$D/pair/scan.tif" --out "$D/t.json" >"$D/register.log" 2>&1
  echo "$bin_id" >"$D/t.json.build"
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

# warp NP INTERP TRANSFORM OUT [BACKEND]: the command line of an alinify warp (measure runs it).
warp() {
  WARP=(mpirun "${NP_FLAGS[@]}" -np "$1" "$A" warp --design "$D/pair/design.tif" --scan "$D/pair/scan.tif"
        --transform "$3" --out "$4" --interp "$2" --backend "${5:-cpu}" --no-qa --no-overviews)
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
# 2c. Compressed output: every rank encodes its own tiles (the defaults: zstd level 1 after the
#     horizontal predictor), bilinear (issue 17's target:
#     -np 2 within 1.5x the uncompressed row, and -np 2 within 0.6x -np 1).
zstd_ranks=(1 2)
((QUICK)) && zstd_ranks=(2)
for np in "${zstd_ranks[@]}"; do
  warp $np bilinear "$D/t.json" "$D/out/zstd.tif"
  measure "alinify warp, bilinear, --compress zstd, -np $np (affine + B-spline)" "${WARP[@]}" --compress zstd
done
# 5. LibTorch's grid_sample on the same blocks (when the plugin was built: -DALINIFY_WITH_TORCH=ON).
if [ -f "$(dirname "$A")/libalinify_torch.so" ]; then
  for interp in bilinear bicubic; do
    warp 1 $interp "$D/t.json" "$D/out/torch.tif" torch
    measure "LibTorch grid_sampler (CPU), $interp, -np 1 (affine + B-spline)" "${WARP[@]}"
  done
fi
# 2b. CUDA, when this build has it and a GPU is visible; otherwise the JSON says why not.
if nvidia-smi -L >/dev/null 2>&1; then
  for interp in bilinear bicubic; do
    warp 1 $interp "$D/t.json" "$D/out/cuda.tif" cuda
    measure "alinify warp, CUDA, $interp, -np 1 (affine + B-spline)" "${WARP[@]}"
  done
else
  log "no GPU visible (nvidia-smi -L failed): no CUDA rows"
  python3 -c 'import json,sys; open(sys.argv[1],"a").write(json.dumps({"label":"alinify warp, CUDA","not_run":"no GPU visible on this machine (nvidia-smi -L failed)"})+"\n")' "$ROWS"
  echo "| alinify warp, CUDA | not run: no GPU visible | | |" >>"$OUT"
fi
# 9. The defect stage (issue 18): warp --defects with QA on (its metrics.json holds the defect and
#    warp stage times), 1 and 2 ranks; the pair has no drawn defect, so every defect found is false.
defect_times() {  # after each run: the stage times and the count, one JSON line
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); d=m["defects"]
print(json.dumps({"defect_stage_s": d["stage_seconds"]["total"], "warp_stage_s": m["warp"]["stage_seconds"]["warp"],
                  "found": d["count"], "rss_mib": d["peak_rss_bytes_max_rank"] / 2**20}))' \
    "$D/out/defects.metrics.json" >>"$D/defect_times.jsonl"
}
defect_ranks=(1 2)
((QUICK)) && defect_ranks=(2)
for np in "${defect_ranks[@]}"; do
  : >"$D/defect_times.jsonl"
  AFTER_EACH=defect_times measure "alinify warp --defects (warp, defects, QA), bilinear, -np $np" \
    mpirun "${NP_FLAGS[@]}" -np $np "$A" warp --design "$D/pair/design.tif" --scan "$D/pair/scan.tif" \
    --transform "$D/t.json" --out "$D/out/defects.tif" --no-overviews --defects --progress off
  python3 - "$D/defect_times.jsonl" "$np" "$W" "$H" "$ROWS" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if runs:
    med = lambda k: statistics.median(r[k] for r in runs)
    with open(sys.argv[5], "a") as f:
        f.write(json.dumps({"label": f"defect stage, -np {sys.argv[2]}", "kind": "defects", "ranks": int(sys.argv[2]),
                            "defect_stage_s": med("defect_stage_s"), "warp_stage_s": med("warp_stage_s"),
                            "defects_found": max(r["found"] for r in runs), "peak_rss_mib": max(r["rss_mib"] for r in runs),
                            "megapixels": int(sys.argv[3]) * int(sys.argv[4]) / 1e6, "runs": len(runs)}) + "\n")
PY
done
# 10. Defects found where some are drawn (issue 18's accuracy targets): a second pair of the same
#     size, seed 7 with 60 drawn defects (--quick: 40), registered, warped and inspected by one
#     `alinify run --defects` at 2 ranks, its list scored by `alinify eval --defects`.
DP=$D/defects-pair
drawn_n=60; ((QUICK)) && drawn_n=40
if [ ! -f "$DP/truth.json" ]; then
  log "synthesising a ${W}x${H} pair with $drawn_n drawn defects in $DP"
  "$A" synth --out-dir "$DP" --width "$W" --height "$H" --seed 7 --defects $drawn_n >"$D/synth_defects.log" 2>&1
fi
REPS=$HEAVY_REPEATS measure "alinify run --defects (register + warp + defects + QA), drawn defects, -np 2" \
  mpirun "${NP_FLAGS[@]}" -np 2 "$A" run --design "$DP/design.tif" --scan "$DP/scan.tif" --out "$D/out/drawn.tif" \
  --defects --progress off --transform-out "$D/out/drawn.json"
score_defects() {  # CSV TRUTH CONTRAST LABEL: one defect-accuracy row
  local ev
  local logf="$D/logs/defect_eval_contrast$3.log"  # one per row: the second must not overwrite the first
  if ev=$("$A" eval --defects "$1" --truth "$2" 2>"$logf"); then
    python3 - "$ev" "$ROWS" "$3" "$4" <<'PY'
import json, sys
e = json.loads(sys.argv[1])
keys = ("truth_defects", "found_defects", "recall", "precision", "centroid_error_median_px", "centroid_error_mean_px",
        "centroid_error_max_px", "centroid_within_2px")
with open(sys.argv[2], "a") as f:
    f.write(json.dumps(dict({"label": sys.argv[4], "kind": "defect-accuracy", "contrast": int(sys.argv[3])},
                            **{k: e[k] for k in keys})) + "\n")
PY
  else
    log "FAILED: alinify eval --defects $1 (see $logf)"; FAILED=$((FAILED + 1))
  fi
}
score_defects "$D/out/drawn.defects.csv" "$DP/truth.json" 0 "defects found on the pair with drawn defects, scored by alinify eval"
#     The same defects drawn at the threshold contrast (synth --defect-contrast 10: median Delta E
#     10 to 11 over each shape; the same geometry and deformation, so the transform registered above
#     serves), found by one `alinify warp --defects` at 2 ranks (not timed).
DP10=$D/defects10-pair
if [ ! -f "$DP10/truth.json" ]; then
  log "synthesising the same pair with its defects at Delta E 10 in $DP10"
  "$A" synth --out-dir "$DP10" --width "$W" --height "$H" --seed 7 --defects $drawn_n --defect-contrast 10 \
    >"$D/synth_defects10.log" 2>&1
fi
rm -f "$D/out/drawn10".*
if mpirun "${NP_FLAGS[@]}" -np 2 "$A" warp --design "$DP10/design.tif" --scan "$DP10/scan.tif" \
  --transform "$D/out/drawn.json" --out "$D/out/drawn10.tif" --defects --no-qa --no-overviews --progress off \
  >"$D/logs/defects10.log" 2>&1; then
  score_defects "$D/out/drawn10.defects.csv" "$DP10/truth.json" 10 \
    "defects drawn at Delta E 10 found on the same pair, scored by alinify eval"
else
  log "FAILED: warp --defects on the Delta E 10 pair (see $D/logs/defects10.log)"; FAILED=$((FAILED + 1))
fi
# 8. Scaling: the whole job (register + warp + QA) with 1 and 2 ranks. Each run's transform and
#    metrics.json are kept (measure empties out/ before the next row) for section 11.
mkdir -p "$D/kept"
keep() {  # after each run of a registering row: its transform and metrics.json, by the row's name
  cp "$D/out/$KEEP.json" "$D/kept/$KEEP.json" && { [ ! -f "$D/out/$KEEP.metrics.json" ] ||
    cp "$D/out/$KEEP.metrics.json" "$D/kept/$KEEP.metrics.json"; }
}
run_ranks=(1 2)
((QUICK)) && run_ranks=(2)  # --quick: one whole job is enough to prove the row works
for np in "${run_ranks[@]}"; do
  rm -f "$D/kept/run_np$np".*
  KEEP=run_np$np AFTER_EACH=keep REPS=$HEAVY_REPEATS measure "alinify run (register + warp + QA), -np $np" \
    mpirun "${NP_FLAGS[@]}" -np $np "$A" run --design "$D/pair/design.tif" --scan "$D/pair/scan.tif" \
    --out "$D/out/run_np$np.tif" --transform-out "$D/out/run_np$np.json"
done
# 11. Registration accuracy (issue 16's targets): the whole jobs' transforms above scored by
#     `alinify eval`, with their decimation and refinement seconds from metrics.json; then
#     `alinify register` at 2 ranks on the same pair with --mem-budget 2GiB and with --refine none,
#     and on two more pairs of the same size (made once, like the first): seed 7 with
#     --fine-waves 3 (deformation finer than elastix's grid; --refine auto and none) and seed 7
#     --kind periodic (the largest error says whether a block went to another repeat).
accuracy() {  # NAME TRUTH PAIR SETTING RANKS: one registration-accuracy row from $D/kept/NAME.*
  local ev logf="$D/logs/eval_$1.log"
  if [ -f "$D/kept/$1.json" ] && ev=$("$A" eval --transform "$D/kept/$1.json" --truth "$2" 2>"$logf"); then
    python3 - "$ev" "$ROWS" "$3" "$4" "$5" "$D/kept/$1.metrics.json" <<'PY'
import json, os, sys
e = json.loads(sys.argv[1])
r = {"label": f"registration accuracy: {sys.argv[3]} pair, {sys.argv[4]}, -np {sys.argv[5]}",
     "kind": "registration-accuracy", "pair": sys.argv[3], "setting": sys.argv[4], "ranks": int(sys.argv[5]),
     "mean_px": e["mean"], "p95_px": e["p95"], "max_px": e["max"]}
if os.path.exists(sys.argv[6]):  # the whole job's stage times (register writes no metrics.json)
    m = json.load(open(sys.argv[6]))
    r["decimate_s"] = m["registration"]["stage_seconds"]["decimate"]
    r["elastix_s"] = m["registration"]["stage_seconds"]["elastix"]
    r["refinement_s"] = m.get("refinement", {}).get("seconds", 0.0)
with open(sys.argv[2], "a") as f:
    f.write(json.dumps(r) + "\n")
PY
  else
    log "FAILED: alinify eval of $D/kept/$1.json (see $logf)"; FAILED=$((FAILED + 1))
  fi
}
for np in "${run_ranks[@]}"; do accuracy run_np$np "$D/pair/truth.json" default "run, defaults" $np; done
# register_row NAME PAIR_DIR LABEL [OPTIONS...]: one timed `alinify register` at 2 ranks, kept.
register_row() {
  local name=$1 pair=$2 label=$3; shift 3
  rm -f "$D/kept/$name".*
  KEEP=$name AFTER_EACH=keep REPS=$HEAVY_REPEATS measure "$label, -np 2" \
    mpirun "${NP_FLAGS[@]}" -np 2 "$A" register --design "$pair/design.tif" --scan "$pair/scan.tif" \
    --out "$D/out/$name.json" "$@"
}
register_row budget "$D/pair" "alinify register --mem-budget 2GiB" --mem-budget 2GiB
accuracy budget "$D/pair/truth.json" default "register --mem-budget 2GiB" 2
register_row none "$D/pair" "alinify register --refine none" --refine none
accuracy none "$D/pair/truth.json" default "register --refine none" 2
for kind in fine-waves periodic; do
  KP=$D/$kind-pair
  if [ ! -f "$KP/truth.json" ]; then
    log "synthesising a ${W}x${H} $kind pair in $KP"
    opts=(--fine-waves 3); [ $kind = periodic ] && opts=(--kind periodic)
    "$A" synth --out-dir "$KP" --width "$W" --height "$H" --seed 7 "${opts[@]}" >"$D/synth_$kind.log" 2>&1
  fi
  register_row "$kind" "$KP" "alinify register, $kind pair"
  accuracy "$kind" "$KP/truth.json" "$kind" "register, defaults" 2
  if [ $kind = fine-waves ]; then
    register_row "$kind-none" "$KP" "alinify register --refine none, $kind pair" --refine none
    accuracy "$kind-none" "$KP/truth.json" "$kind" "register --refine none" 2
  fi
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
REPS=$HEAVY_REPEATS measure "transformix, one band (of 3), affine + B-spline, full resolution" \
  transformix -in "$band" -tp "$last_tp" -out "$D/transformix"

# 7. The Python route users leave behind: PyPI's itk-elastix at 1024 px on the longest side, then
#    torch grid_sample on the whole image in float32, as the earlier tool did; its transform is
#    scored by alinify eval like every other (bench/python_route.py converts elastix's chain).
if ((PY_ROUTE)); then
  VENV=$CACHE/pyroute-venv PR=$D/python_route
  if ! "$VENV/bin/python" -c 'import itk, torch, tifffile' 2>/dev/null; then
    log "making the Python route's virtual environment in $VENV (PyPI: itk-elastix torch tifffile numpy)"
    python3 -m venv "$VENV" && "$VENV/bin/pip" install -q itk-elastix torch tifffile numpy
  fi
  REPS=$HEAVY_REPEATS measure "Python route: register at 1024 px (itk-elastix affine + bspline)" \
    "$VENV/bin/python" "$ROOT/bench/python_route.py" register "$D/pair/design.tif" "$D/pair/scan.tif" "$PR"
  REPS=$HEAVY_REPEATS measure "Python route: whole-image warp (torch grid_sample, bilinear, float32)" \
    "$VENV/bin/python" "$ROOT/bench/python_route.py" warp "$D/pair/scan.tif" "$PR" "$D/out/python_route.tif"
  if ev=$("$A" eval --transform "$PR/transform.json" --truth "$D/pair/truth.json" 2>"$D/logs/python_route_eval.log"); then
    python3 -c 'import json,sys; e=json.loads(sys.argv[2]); open(sys.argv[1],"a").write(json.dumps({"label":"Python route: its transform, scored by alinify eval","kind":"python-route-eval","mean_px":e["mean"],"p95_px":e["p95"]})+"\n")' "$ROWS" "$ev"
  else
    log "FAILED: alinify eval of the Python route's transform (see $D/logs/python_route_eval.log)"; FAILED=$((FAILED + 1))
  fi
fi
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
  sizes=(1000000 4000000 16000000 64000000 planner)
  ((QUICK)) && sizes=(250000)
  for mp in "${sizes[@]}"; do
    tj=$D/reg_$mp.json tl=$D/reg_$mp.log
    if [ "$mp" = planner ]; then  # the planner's choice is the registration every warp above used
      tj=$D/t.json tl=$D/register.log
    elif ! "$A" register --design "$D/pair/design.tif" --scan "$D/pair/scan.tif" --out "$tj" \
      --registration-max-pixels "$mp" >"$tl" 2>&1; then
      echo "| $mp | failed | | | | |" >>"$OUT"; FAILED=$((FAILED + 1)); continue
    fi
    ev=$("$A" eval --transform "$tj" --truth "$D/pair/truth.json" 2>/dev/null)
    python3 - "$tl" "$ev" "$mp" "$ROWS" >>"$OUT" <<'PY'
import json, re, sys
log = open(sys.argv[1]).read()
ev = json.loads(sys.argv[2])
plan = re.search(r"register at 1/(\d+) \(design (\d+)x(\d+)", log)
elx = re.search(r"elastix finished in ([\d.]+) s, peak RSS ([\d.]+ \w+)", log)
px = int(plan.group(2)) * int(plan.group(3))
print(f"| {px/1e6:.1f} MP ({sys.argv[3]}) | {plan.group(1)} | {elx.group(1)} | {elx.group(2)} | {ev['mean']:.3f} | {ev['p95']:.3f} |")
with open(sys.argv[4], "a") as f:
    f.write(json.dumps({"label": f"registration at {px/1e6:.1f} MP ({sys.argv[3]})", "kind": "registration",
                        "factor": int(plan.group(1)), "registration_pixels": px, "elastix_s": float(elx.group(1)),
                        "elastix_peak_rss": elx.group(2), "mean_px": ev["mean"], "p95_px": ev["p95"]}) + "\n")
PY
  done
fi
finish
cat "$OUT"
((FAILED == 0)) || { log "$FAILED measurement(s) failed: see the logs in $D/logs"; exit 1; }
