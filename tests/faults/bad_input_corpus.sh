#!/bin/bash
# The bad-input corpus (docs/reliability.md, promise 1): every case is generated here, at test
# time, and run through the command that reads it, alone and under `mpirun -np 2`. Each run must
# exit with the documented non-zero code, print exactly one error line naming the file and the
# problem, leave nothing in its output folder (no output, no .partial, no probe, no elastix
# folder), leave the inputs untouched, and leave no process running. A few cases must instead be
# accepted (grey rasters, a PNG named .tif, a VRT once --gdal-drivers allows it): a corpus that
# refused everything would pass the first check too. Label e2e.
#   usage: bad_input_corpus.sh ALINIFY_BIN SOURCE_DIR
set -uo pipefail
BIN=${1:?alinify binary}
SRC=${2:?source dir}
. "$(dirname "${BASH_SOURCE[0]}")/../support/common.sh"
require_commands mpirun gdal_translate
scratch_dir bad-corpus
mpi_launcher -np 2
W=256 H=192
I=$T/in
failures=0 passed=0 runs=0

"$BIN" synth --out-dir "$T/pair" --width $W --height $H --seed 3 >/dev/null 2>&1 || fail "synth"
"$BIN" synth --out-dir "$T/other" --width $W --height $H --seed 11 >/dev/null 2>&1 || fail "synth"
D=$T/pair/design.tif S=$T/pair/scan.tif
python3 "$SRC/tests/faults/make_bad_inputs.py" "$I" $W $H "$S" || fail "make_bad_inputs.py"
cp "$D" "$I/design_copy.tif"; cp "$S" "$I/scan_copy.tif"
mkdir -p "$I/a_directory.tif"
gt() { gdal_translate -q "$@" || fail "gdal_translate $*"; }
gt -b 1 "$S" "$I/grey.tif"
gt -b 1 -b 2 "$S" "$I/two_bands.tif"
gt -ot Int16 "$S" "$I/int16.tif"   # 16-bit unsigned is read (docs/cli.md); signed is not
gt -ot Float32 "$S" "$I/float32.tif"
gt -of PNG "$S" "$I/png_named.tif"
gt -of JPEG "$S" "$I/scan.jpg"
head -c $(( $(stat -c %s "$I/scan.jpg") / 3 )) "$I/scan.jpg" >"$I/truncated.jpg"   # libjpeg only warns
cp "$S" "$I/truncated.tif"; truncate -s $(( $(stat -c %s "$S") / 2 )) "$I/truncated.tif"
gdal_translate -q -of GTiff -co TILED=YES -co BLOCKXSIZE=32 -co BLOCKYSIZE=32 "$S" "$I/tiled.tif"
cp "$I/tiled.tif" "$I/truncated_tiles.tif"; truncate -s $(( $(stat -c %s "$I/tiled.tif") - 20000 )) "$I/truncated_tiles.tif"
head -c 100 "$S" >"$I/truncated_header.tif"   # GDAL still knows it for a TIFF, and cannot open it
gt -scale 0 255 128 128 "$S" "$I/bare_table.tif"   # a uniform scan: nothing to register on
gt -outsize 40 30 "$S" "$I/tiny.tif"               # smaller than registration's 64 px
gt -outsize 1200 60 "$D" "$I/thin_design.tif"
ID=$I/identity.json
inputs_sum() { (cd "$I" && find . -type f -print0 | sort -z | xargs -0 md5sum | md5sum); }
before=$(inputs_sum)

# one_run LABEL CODE NAMED PROBLEM_REGEX OUTDIR CMD...: one run and its checks (PROBLEM_REGEX: one
# extended regex, or several joined by " && ", all of which must match).
one_run() {
  local label=$1 code=$2 named=$3 problem=$4 outdir=$5
  shift 5
  runs=$((runs + 1))
  local log=$T/log.txt rc
  timeout 120 "$@" >"$log" 2>&1
  rc=$?
  local bad=""
  [ "$rc" = "$code" ] || bad+=" exit $rc (expected $code);"
  local errors
  errors=$(grep -c '\[error\]' "$log")
  if [ "$code" != 0 ]; then
    [ "$errors" = 1 ] || bad+=" $errors error lines (expected 1);"
    # The error line, and for a manifest the list of its problems that follows (indented lines).
    local block
    block=$(awk '/\[error\]/ { on = 1; print; next } on && /^  / { print; next } { on = 0 }' "$log")
    grep -qF -- "$named" <<<"$block" || bad+=" error line does not name '$named';"
    # PROBLEM_REGEX may be several, "re1 && re2": each must match (a manifest's list of problems).
    local rest=$problem re
    while [ -n "$rest" ]; do
      re=${rest%% && *}
      if [ "$re" = "$rest" ]; then rest=""; else rest=${rest#* && }; fi
      grep -qE -- "$re" <<<"$block" || bad+=" error line does not say /$re/;"
    done
    local left
    left=$(find "$outdir" -mindepth 1 2>/dev/null | head -5)
    [ -z "$left" ] || bad+=" left behind: $left;"
  fi
  sleep 0.2
  local procs
  procs=$(pgrep -af -- "$T" | grep -v pgrep)
  [ -z "$procs" ] || { bad+=" processes left: $procs;"; pkill -9 -f -- "$T/"; }
  if [ -n "$bad" ]; then
    echo "FAIL [$label]:$bad"
    sed 's/^/    | /' "$log" | tail -8
    failures=$((failures + 1))
  else
    passed=$((passed + 1))
    echo "ok   [$label] exit $rc: $(grep '\[error\]' "$log" | sed 's/.*\[error\] //' | cut -c1-150)"
  fi
}

# check NAME CODE NAMED PROBLEM_REGEX -- ARGS... (ARGS may use @OUT for a fresh, empty output folder)
check() {
  local name=$1 code=$2 named=$3 problem=$4
  shift 5
  for mode in alone np2; do
    local outdir=$T/out/$name.$mode
    rm -rf "$outdir"; mkdir -p "$outdir"
    local args=("${@//@OUT/$outdir}")
    if [ $mode = alone ]; then
      one_run "$name/$mode" "$code" "$named" "$problem" "$outdir" "$BIN" "${args[@]}"
    else
      one_run "$name/$mode" "$code" "$named" "$problem" "$outdir" "${MPI[@]}" "$BIN" "${args[@]}"
    fi
  done
}
warp_scan() { echo warp --design "$D" --scan "$1" --transform "$ID" --out @OUT/out.tif; }

# --- rasters: through warp (the reader every command shares) -----------------------------------
check missing_file          2 "$I/missing.tif"          "no such file"           -- warp --design "$D" --scan "$I/missing.tif" --transform "$ID" --out @OUT/out.tif
check directory_as_file     2 "$I/a_directory.tif"      "is a directory"         -- warp --design "$D" --scan "$I/a_directory.tif" --transform "$ID" --out @OUT/out.tif
check zero_byte_file        2 "$I/empty.tif"            "empty"                  -- warp --design "$I/empty.tif" --scan "$S" --transform "$ID" --out @OUT/out.tif
check truncated_strips      2 "$I/truncated.tif"        "truncated|corrupt|not a readable" -- warp --design "$D" --scan "$I/truncated.tif" --transform "$ID" --out @OUT/out.tif
check truncated_jpeg       2 "$I/truncated.jpg"        "Premature end of JPEG"  -- warp --design "$D" --scan "$I/truncated.jpg" --transform "$ID" --out @OUT/out.tif
check truncated_header     2 "$I/truncated_header.tif" "GTiff file GDAL cannot open: truncated" -- warp --design "$D" --scan "$I/truncated_header.tif" --transform "$ID" --out @OUT/out.tif
check truncated_tiles       2 "$I/truncated_tiles.tif"  "truncated|corrupt|not a readable" -- warp --design "$D" --scan "$I/truncated_tiles.tif" --transform "$ID" --out @OUT/out.tif
check text_named_tif        2 "$I/text.tif"             "not a readable raster"  -- warp --design "$D" --scan "$I/text.tif" --transform "$ID" --out @OUT/out.tif
check two_bands             2 "$I/two_bands.tif"        "has 2 bands"            -- warp --design "$D" --scan "$I/two_bands.tif" --transform "$ID" --out @OUT/out.tif
check signed_16_bit         2 "$I/int16.tif"            "Int16.*8-bit"           -- warp --design "$D" --scan "$I/int16.tif" --transform "$ID" --out @OUT/out.tif
check float32               2 "$I/float32.tif"          "Float32.*8-bit"         -- warp --design "$I/float32.tif" --scan "$S" --transform "$ID" --out @OUT/out.tif
check huge_header_tiff      2 "$I/huge_header.tif"      "claims 1000000x1000000" -- warp --design "$D" --scan "$I/huge_header.tif" --transform "$ID" --out @OUT/out.tif
check huge_header_png       2 "$I/huge_header.png"      "claims 1000000x1000000" -- warp --design "$I/huge_header.png" --scan "$S" --transform "$ID" --out @OUT/out.tif
check vrt_refused           2 "$I/pulls_files.vrt"      "VRT.*not allowed"       -- warp --design "$D" --scan "$I/pulls_files.vrt" --transform "$ID" --out @OUT/out.tif
check vrt_named_tif         2 "$I/vrt_renamed.tif"      "VRT.*not allowed"       -- warp --design "$D" --scan "$I/vrt_renamed.tif" --transform "$ID" --out @OUT/out.tif
check jpeg_refused_by_list  2 "$I/scan.jpg"             "JPEG.*not allowed"      -- warp --gdal-drivers GTiff --design "$D" --scan "$I/scan.jpg" --transform "$ID" --out @OUT/out.tif
check unknown_gdal_driver   1 "NoSuchDriver"            "not a GDAL driver"      -- warp --gdal-drivers GTiff,NoSuchDriver --design "$D" --scan "$S" --transform "$ID" --out @OUT/out.tif
# --- transform.json --------------------------------------------------------------------------
check transform_missing     2 "$I/nope.json"            "no such file"           -- warp --design "$D" --scan "$S" --transform "$I/nope.json" --out @OUT/out.tif
check transform_directory   2 "$I/a_directory.tif"      "is a directory"         -- warp --design "$D" --scan "$S" --transform "$I/a_directory.tif" --out @OUT/out.tif
check transform_truncated   2 "$I/truncated.json"       "not valid JSON"         -- warp --design "$D" --scan "$S" --transform "$I/truncated.json" --out @OUT/out.tif
check transform_version     2 "$I/wrong_version.json"   "unsupported transform file version 99" -- warp --design "$D" --scan "$S" --transform "$I/wrong_version.json" --out @OUT/out.tif
check transform_nan         2 "$I/nan.json"             "not valid JSON|not finite" -- warp --design "$D" --scan "$S" --transform "$I/nan.json" --out @OUT/out.tif
check transform_infinite    2 "$I/infinite.json"        "not finite|not valid JSON" -- warp --design "$D" --scan "$S" --transform "$I/infinite.json" --out @OUT/out.tif
check transform_1e9_coefs   2 "$I/billion_coefficients.json" "claims 1000014129 control points" -- warp --design "$D" --scan "$S" --transform "$I/billion_coefficients.json" --out @OUT/out.tif
check transform_other_size  2 "$I/other_design.json"    "999x777 design"         -- warp --design "$D" --scan "$S" --transform "$I/other_design.json" --out @OUT/out.tif
check no_overlap_transform  2 "$I/far.json"             "do not overlap"         -- warp --design "$D" --scan "$S" --transform "$I/far.json" --out @OUT/out.tif
# --- registration: elastix parameter files and images that do not match -------------------------
check params_malformed      2 "$I/malformed_params.txt" "not closed"             -- register --design "$D" --scan "$S" --params "$I/malformed_params.txt" --out @OUT/t.json
check params_unknown_transform 2 "$I/unknown_transform_params.txt" "WarpDriveTransform.*not a transform" -- register --design "$D" --scan "$S" --params "$I/unknown_transform_params.txt" --out @OUT/t.json
check params_nan            2 "$I/nan_params.txt"       "MaximumStepLength.*not a finite" -- register --design "$D" --scan "$S" --params "$I/nan_params.txt" --out @OUT/t.json
check params_negative_count 2 "$I/negative_iterations_params.txt" "MaximumNumberOfIterations.*not a whole number" -- register --design "$D" --scan "$S" --params "$I/negative_iterations_params.txt" --out @OUT/t.json
check scan_too_small        2 "$I/tiny.tif"             "40x30 is smaller than the 64 px registration needs" -- register --preset rigid --design "$D" --scan "$I/tiny.tif" --out @OUT/t.json
check design_too_thin       2 "$I/thin_design.tif"      "1200x60 is smaller than the 64 px registration needs" -- run --design "$I/thin_design.tif" --scan "$S" --out @OUT/out.tif --elastix-threads 1
check coarse_debug_under_file 2 "$D/dbg"                "--coarse-debug: .* is not a folder" -- register --preset rigid --design "$D" --scan "$S" --out @OUT/t.json --coarse-debug "$D/dbg"
check coarse_debug_readonly 2 "/proc/alinify-dbg/x"     "--coarse-debug: .*not writable" -- register --preset rigid --design "$D" --scan "$S" --out @OUT/t.json --coarse-debug /proc/alinify-dbg/x
check scan_bare_table       2 "$I/bare_table.tif"       "placement|score|overlap" -- run --design "$D" --scan "$I/bare_table.tif" --out @OUT/out.tif --elastix-threads 1
check scan_of_other_design  2 "$T/other/scan.tif"       "score|overlap|match|confidence" -- run --design "$D" --scan "$T/other/scan.tif" --out @OUT/out.tif --elastix-threads 1
# --- a design truncated in its pixel data: the warp needs only its grid, the QA after the rename
# reads its pixels; the failed job must not leave the renamed output (or QA files) behind ---------
check design_truncated_qa   2 "$I/truncated.tif"        "truncated|corrupt"      -- warp --design "$I/truncated.tif" --scan "$S" --transform "$ID" --out @OUT/out.tif
check design_truncated_qa_cog 2 "$I/truncated.tif"      "truncated|corrupt"      -- warp --design "$I/truncated.tif" --scan "$S" --transform "$ID" --out @OUT/out.tif --cog --compress zstd
# --- points CSV --------------------------------------------------------------------------------
check points_no_xy          2 "$I/points_no_xy.csv"     "columns x and y"        -- map-points --transform "$ID" --in "$I/points_no_xy.csv" --out @OUT/q.csv
check points_text           2 "$I/points_text.csv"      "'ten' is not a number"  -- map-points --transform "$ID" --in "$I/points_text.csv" --out @OUT/q.csv
check points_nan            2 "$I/points_nan.csv"       "'nan' is not a finite"  -- map-points --transform "$ID" --in "$I/points_nan.csv" --out @OUT/q.csv
check points_short_row      2 "$I/points_short_row.csv" "too few columns"        -- map-points --transform "$ID" --in "$I/points_short_row.csv" --out @OUT/q.csv
# --- batch manifests ----------------------------------------------------------------------------
check manifest_dup_out      2 "manifest_duplicate_out.csv" "duplicate output"    -- batch --manifest "$I/manifest_duplicate_out.csv" --summary-dir @OUT --journal @OUT/j.jsonl
check manifest_no_scan_col  2 "manifest_missing_column.csv" "no 'scan' column"   -- batch --manifest "$I/manifest_missing_column.csv" --summary-dir @OUT --journal @OUT/j.jsonl
check manifest_out_is_input 2 "manifest_out_is_input.csv" "would overwrite an input" -- batch --manifest "$I/manifest_out_is_input.csv" --summary-dir @OUT --journal @OUT/j.jsonl
check manifest_bad_jsonl    2 "manifest_bad_line.jsonl" "not JSON"               -- batch --manifest "$I/manifest_bad_line.jsonl" --summary-dir @OUT --journal @OUT/j.jsonl
check manifest_bad_values   2 "manifest_bad_values.csv" "7 problems && job-timeout '-4' && --mem-budget: 'lots' && --interp: 'cubic' && --compress: 'lzw' && --fill: 300 && --registration-max-pixels: 5 && --elastix-threads: -1" -- batch --manifest "$I/manifest_bad_values.csv" --summary-dir @OUT --journal @OUT/j.jsonl
check manifest_many_problems 2 "manifest_many_problems.csv" "30 problems && :21: 1 fields, the header has 4 && \.\.\. and 10 more" -- batch --manifest "$I/manifest_many_problems.csv" --summary-dir @OUT --journal @OUT/j.jsonl
check manifest_directory    2 "$I/a_directory.tif"      "is a directory"         -- batch --manifest "$I/a_directory.tif" --summary-dir @OUT --journal @OUT/j.jsonl
check manifest_binary       2 "$I/scan_copy.tif"        "not a text file"        -- batch --manifest "$I/scan_copy.tif" --summary-dir @OUT --journal @OUT/j.jsonl
check summary_dir_readonly  2 "/proc/alinify-summary"   "--summary-dir: .*not writable" -- batch --manifest "$I/manifest_ok.csv" --summary-dir /proc/alinify-summary --journal @OUT/j.jsonl
check summary_dir_under_file 2 "$D/summary"             "--summary-dir: .* is not a folder" -- batch --manifest "$I/manifest_ok.csv" --summary-dir "$D/summary" --journal @OUT/j.jsonl
check batch_bad_default     1 "--fill"                  "--fill: 300 is not in 0..255" -- batch --manifest "$I/manifest_ok.csv" --fill 300 --summary-dir @OUT --journal @OUT/j.jsonl
# --- outputs: refused before anything is opened for writing --------------------------------------
check out_folder_missing    2 "/nonexistent-dir/out.tif" "does not exist"        -- warp --design "$D" --scan "$S" --transform "$ID" --out /nonexistent-dir/out.tif
check out_folder_readonly   2 "/proc/alinify-out.tif"   "not writable"           -- warp --design "$D" --scan "$S" --transform "$ID" --out /proc/alinify-out.tif
check out_is_scan           2 "$I/scan_copy.tif"        "same file as the input --scan" -- warp --design "$D" --scan "$I/scan_copy.tif" --transform "$ID" --out "$I/scan_copy.tif"
check out_is_design_via_dot 2 "design_copy.tif"         "same file as the input --design" -- run --design "$I/design_copy.tif" --scan "$S" --out "$I/./design_copy.tif"
check transform_out_is_scan 2 "$I/scan_copy.tif"        "same file as the input --scan" -- run --design "$D" --scan "$I/scan_copy.tif" --out @OUT/o.tif --transform-out "$I/scan_copy.tif"
check points_out_is_in      2 "$I/points_text.csv"      "same file as the input --in" -- map-points --transform "$ID" --in "$I/points_text.csv" --out "$I/points_text.csv"
check points_out_is_transform 2 "$ID"                   "same file as the input --transform" -- map-points --transform "$ID" --in "$I/points_text.csv" --out "$ID"
check config_is_directory   2 "$I/a_directory.tif"      "is a directory"         -- warp --config "$I/a_directory.tif" --design "$D" --scan "$S" --transform "$ID" --out @OUT/out.tif

# --- accepted on purpose (docs/cli.md): the corpus must not pass by refusing everything -----------
check grey_scan_accepted    0 "" "" -- warp --design "$D" --scan "$I/grey.tif" --transform "$ID" --out @OUT/out.tif
check png_named_tif_accepted 0 "" "" -- warp --design "$D" --scan "$I/png_named.tif" --transform "$ID" --out @OUT/out.tif
check vrt_allowed_by_option 0 "" "" -- warp --gdal-drivers GTiff,VRT --design "$D" --scan "$I/pulls_files.vrt" --transform "$ID" --out @OUT/out.tif

after=$(inputs_sum)
if [ "$before" != "$after" ]; then echo "FAIL: an input file changed or appeared in $I"; failures=$((failures + 1)); fi
echo "bad-input corpus: $passed of $runs runs passed ($((runs / 2)) cases, alone and under mpirun -np 2)"
[ "$failures" = 0 ] || { echo "FAIL: $failures run(s) failed"; exit 1; }
echo PASS
