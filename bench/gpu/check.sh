#!/bin/bash
# The GPU rows, run on a GPU machine from what bench/gpu/pack.sh packed (see it for how to call).
# 1. alinify_gpu_selftest at 18960x14960: each kernel's GP/s and its identity with the CPU;
# 2. the Gpu.* tests (tests/gpu);
# 3. the bench pair made again there (`alinify synth --seed 1`, checked against the packed sha256),
#    the I/O floor (gdal_translate copy) and `alinify warp` with the bench's transform, CPU and
#    CUDA, -np 1 and 2 (mpirun --bind-to none: the machine's cores shared by the ranks), bilinear and
#    bicubic, 3 runs each; --compress zstd at -np 2; --exact bilinear at -np 1; every CPU/CUDA pair
#    of outputs compared with cmp.
# Writes $OUT/gpu.json (bench/report.py renders it: docs/performance.md, "On a GPU") and the logs.
#   usage: bash bench/gpu/check.sh PACKED_DIR
set -uo pipefail
PK=$(cd "${1:?the folder pack.sh filled}" && pwd)
OUT=${OUT:?where the results go}
exec > >(tee "$OUT/check.log") 2>&1
t0=$SECONDS
tar -xJf "$PK/libs.tar.xz" -C /tmp || exit 1
L=/tmp/libs
export OMPI_MCA_ess_singleton_isolated=1 OMPI_MCA_mca_base_component_path=/tmp/mca/openmpi3 \
  PMIX_MCA_mca_base_component_path=/tmp/mca/pmix OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader \
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
R=("$L/ld-linux-x86-64.so.2" --library-path "$L")  # the packed loader and libraries, not the machine's
P=/tmp/pair W=/tmp/w LOGS=/tmp/logs
mkdir -p $P $W $LOGS
("${R[@]}" "$PK/alinify" synth --out-dir $P --width 18960 --height 14960 --seed 1 >$LOGS/synth.log 2>&1) &
syn=$!
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $LOGS/gpu.txt
"$PK/alinify_gpu_selftest" --width 18960 --height 14960 --repeat 5 2>&1 | tee "$OUT/selftest.log"
"${R[@]}" "$PK/alinify_gpu_tests" >"$OUT/gtests.log" 2>&1; echo "gtests exit $?" | tee -a "$OUT/gtests.log"
wait $syn
(cd $P && sha256sum design.tif scan.tif) | cmp - "$PK/pair.sha256" || { echo "the pair made here is not the bench's"; exit 1; }
TIMEFORMAT=%R
timed() {  # label run command...: one line of $LOGS/runs.tsv (label, run, wall s, log file)
  local label=$1 r=$2 log=$LOGS/$(echo "$1-$2" | tr -c 'a-zA-Z0-9\n-' _).log; shift 2
  local s; s=$( { time "$@" >"$log" 2>&1; } 2>&1 )
  printf '%s\t%s\t%s\t%s\n' "$label" "$r" "$s" "$log" >>$LOGS/runs.tsv
  echo "$label run $r: $s s"
}
for r in 1 2 3; do
  timed "I/O floor: gdal_translate copy (tiled 256, BigTIFF)" $r "${R[@]}" "$PK/gdal_translate" -q -co TILED=YES \
    -co BIGTIFF=YES -co BLOCKXSIZE=256 -co BLOCKYSIZE=256 $P/scan.tif $W/copy.tif
  rm -f $W/copy.tif
done
warp() {  # np interp backend out [options]: alinify warp with the bench's transform
  local np=$1 interp=$2 be=$3 out=$4; shift 4
  local cmd=("${R[@]}" "$PK/alinify" warp --design $P/design.tif --scan $P/scan.tif --transform "$PK/t.json"
             --out "$out" --interp "$interp" --backend "$be" --no-qa --no-overviews --progress off "$@")
  rm -f "$out"
  if [ "$np" = 1 ]; then "${cmd[@]}"; else "${R[@]}" "$PK/mpirun" -np "$np" --bind-to none -x LD_LIBRARY_PATH="$L" "${cmd[@]}" </dev/null; fi
}
same() {  # label a b: one line of $LOGS/same.tsv
  if cmp -s "$2" "$3"; then s=1; else s=0; fi
  printf '%s\t%s\n' "$1" "$s" >>$LOGS/same.tsv
  echo "$1: identical $s"
}
for np in 1 2; do
  for interp in bilinear bicubic; do
    for be in cpu cuda; do
      for r in 1 2 3; do timed "alinify warp, $be, $interp, -np $np" $r warp $np $interp $be $W/$be.tif; done
    done
    same "CPU and CUDA, $interp, -np $np" $W/cpu.tif $W/cuda.tif
  done
done
for be in cpu cuda; do
  for r in 1 2 3; do timed "alinify warp, $be, bilinear, --compress zstd, -np 2" $r warp 2 bilinear $be $W/z-$be.tif --compress zstd; done
  timed "alinify warp, $be, bilinear, --exact, -np 1" 1 warp 1 bilinear $be $W/x-$be.tif --exact
done
same "CPU and CUDA, bilinear, --compress zstd, -np 2" $W/z-cpu.tif $W/z-cuda.tif
same "CPU and CUDA, bilinear, --exact, -np 1" $W/x-cpu.tif $W/x-cuda.tif
python3 - "$LOGS" "$OUT/gpu.json" "$PK/commit" "$OUT/selftest.log" "$OUT/gtests.log" <<'PY'
import json, re, statistics, sys, datetime
logs, out, commit, selftest, gtests = sys.argv[1:]
rows = {}
for line in open(f"{logs}/runs.tsv"):
    label, run, wall, log = line.rstrip("\n").split("\t")
    row = rows.setdefault(label, {"label": label, "runs": [], "warp_stage_s": [], "kernel_s": [], "peak_rss_mib": 0.0})
    row["runs"].append(float(wall))
    text = open(log).read()
    m = re.search(r"warp stage ([0-9.]+) s", text)
    if m: row["warp_stage_s"].append(float(m.group(1)))
    k = re.findall(r"kernel ([0-9.]+) s", text)
    if k: row["kernel_s"].append(sum(map(float, k)))
    for v in re.findall(r"peak RSS ([0-9.]+) MiB", text): row["peak_rss_mib"] = max(row["peak_rss_mib"], float(v))
for row in rows.values():
    row["median_s"] = statistics.median(row["runs"])
    for key in ("warp_stage_s", "kernel_s"):
        row[key] = statistics.median(row[key]) if row[key] else None
kernels = []
for line in open(selftest):
    m = re.match(r"(\w+)\s+(lattice|exact)\s+kernel ([0-9.]+) ms for ([0-9.]+) MP: ([0-9.]+) GP/s \| vs CPU: (\d+) of (\d+) values differ", line)
    if m:
        kernels.append({"interp": m.group(1), "positions": m.group(2), "ms": float(m.group(3)), "mp": float(m.group(4)),
                        "gp_per_s": float(m.group(5)), "differ": int(m.group(6)), "compared": int(m.group(7))})
same = [{"what": l.split("\t")[0], "identical": l.split("\t")[1].strip() == "1"} for l in open(f"{logs}/same.tsv")]
gt = open(gtests).read()
json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "commit": open(commit).read().strip(),
           "gpu": open(f"{logs}/gpu.txt").read().strip(), "cores": __import__("os").cpu_count(),
           "selftest_pass": open(selftest).read().rstrip().splitlines()[-1] == "PASS",
           "gtests": {"passed": len(re.findall(r"^\[       OK \]", gt, re.M)), "failed": len(re.findall(r"^\[  FAILED  \] \w", gt, re.M)),
                      "skipped": len(re.findall(r"^\[  SKIPPED \] \w", gt, re.M))},
           "kernels": kernels, "rows": list(rows.values()), "identical": same}, open(out, "w"), indent=1)
print("wrote", out)
PY
echo "total $((SECONDS - t0)) s"
