#!/usr/bin/env python3
"""Checks what `bench/run.sh --quick` wrote, never a time: the JSON reads back and holds every kind
of row with sane figures, and the report has its targets table and its plots.
usage: check_quick.py RESULTS.json PERFORMANCE.md"""
import json
import os
import sys


def main(json_path, md_path):
    doc = json.load(open(json_path))
    problems = []
    if doc.get("format") != "alinify-bench":
        problems.append("format is not alinify-bench")
    rows = doc["rows"]
    measured = [r for r in rows if "median_s" in r]
    for r in measured:
        if not (r["min_s"] <= r["median_s"] <= r["max_s"]) or r["min_s"] < 0:
            problems.append(f"{r['label']}: median {r['median_s']} outside [{r['min_s']}, {r['max_s']}]")
        if r["peak_rss_mib"] <= 0 or not r["command"]:
            problems.append(f"{r['label']}: no peak RSS or no command")
    for prefix in ("I/O floor", "alinify warp, bilinear, -np 1", "alinify warp, bicubic, -np 2", "gdalwarp, affine",
                   "alinify warp, affine only", "alinify warp, bilinear, --compress zstd", "transformix", "alinify run",
                   "alinify warp --defects", "alinify run --defects"):
        if not any(r["label"].startswith(prefix) for r in measured):
            problems.append(f"no measured row '{prefix}...'")
    if not any(r["label"].startswith("alinify warp, CUDA") for r in rows):
        problems.append("no CUDA row (measured, or not_run with a reason)")
    reg = [r for r in rows if r.get("kind") == "registration"]
    if not reg or any(not (0 <= r["mean_px"] <= r["p95_px"]) or r["elastix_s"] <= 0 for r in reg):
        problems.append(f"registration rows missing or not sane: {reg}")
    defects = [r for r in rows if r.get("kind") == "defects"]
    if not defects or any(r["defect_stage_s"] <= 0 or r["warp_stage_s"] <= 0 or r["defects_found"] < 0
                          or r["peak_rss_mib"] <= 0 for r in defects):
        problems.append(f"defect stage rows missing or not sane: {defects}")
    acc = [r for r in rows if r.get("kind") == "defect-accuracy"]
    # The drawn pair with opaque defects (contrast 0) and the same defects at Delta E 10.
    if sorted(r.get("contrast") for r in acc) != [0, 10] or any(
            not (0 <= r["recall"] <= 1 and 0 <= r["precision"] <= 1) or r["truth_defects"] <= 0 for r in acc):
        problems.append(f"defect accuracy rows missing or not sane: {acc}")
    # Issue 16's accuracy rows: the whole job's transform, --mem-budget, --refine none, and the
    # fine-wave (with and without refinement) and periodic pairs, each scored by alinify eval.
    regacc = {(r["pair"], r["setting"]): r for r in rows if r.get("kind") == "registration-accuracy"}
    wanted = {("default", "run, defaults"), ("default", "register --mem-budget 2GiB"), ("default", "register --refine none"),
              ("fine-waves", "register, defaults"), ("fine-waves", "register --refine none"),
              ("periodic", "register, defaults")}
    if set(regacc) != wanted or any(not (0 <= r["mean_px"] <= r["p95_px"] <= r["max_px"]) for r in regacc.values()):
        problems.append(f"registration accuracy rows missing or not sane: {sorted(regacc)}")
    job = regacc.get(("default", "run, defaults"))
    if job and not (job.get("decimate_s", 0) > 0 and job.get("elastix_s", 0) > 0 and "refinement_s" in job):
        problems.append(f"the whole job's accuracy row has no stage seconds: {job}")
    if any(r.get("failed") for r in rows):
        problems.append("failed rows: " + ", ".join(r["label"] for r in rows if r.get("failed")))
    md = open(md_path).read()
    if "## Targets" not in md or "× floor" not in md:
        problems.append(f"{md_path}: no targets table or no ratio column")
    if "## Registration accuracy" not in md or "fine-wave pair: mean" not in md:
        problems.append(f"{md_path}: no registration accuracy table or no fine-wave target")
    if "## The defect stage" not in md or "## Defects found on a pair with drawn defects" not in md:
        problems.append(f"{md_path}: no defect stage table or no defect accuracy table")
    images = os.path.join(os.path.dirname(md_path), "images")
    for png in ("perf-registration.png", "perf-ranks.png"):
        path = os.path.join(images, png)
        if not os.path.isfile(path) or open(path, "rb").read(8) != b"\x89PNG\r\n\x1a\n":
            problems.append(f"{path}: missing or not a PNG")
        elif f"images/{png}" not in md:
            problems.append(f"{md_path} does not show {png}")
    for p in problems:
        print(f"FAIL: {p}")
    print(f"{len(measured)} measured rows, {len(reg)} registration rows: {'FAIL' if problems else 'PASS'}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
