#!/usr/bin/env python3
"""Composes the affine stages of an alinify transform.json into one affine, writes it as a
transform.json, and writes a VRT of the scan whose geotransform encodes that affine so that
gdalwarp onto the grid  -te 0 -H W 0 -tr 1 1  samples exactly where alinify does.

alinify: design pixel centre p -> scan pixel centre q = M p + o.
Output grid georeferencing (north-up, gt = 0 1 0 0 0 -1): centre of design pixel (i, j) is at
X = i + 0.5, Y = -(j + 0.5). Source georeferencing must send scan corner coordinates
q_c = q + 0.5 to the same (X, Y): X = Minv (q_c - o - 0.5) + 0.5, with Y negated."""
import json
import subprocess
import sys

src, out_json, scan, out_vrt = sys.argv[1:5]
t = json.load(open(src))
m, o = [1.0, 0.0, 0.0, 1.0], [0.0, 0.0]
for s in t["stages"]:
    if s["type"] != "affine":
        continue
    a, b = s["matrix"], s["offset"]
    if s.get("combine", "compose") == "add":  # S(x) + T(x) - x
        m = [a[0] + m[0] - 1, a[1] + m[1], a[2] + m[2], a[3] + m[3] - 1]
        o = [b[0] + o[0], b[1] + o[1]]
    else:  # S(T(x))
        m, o = ([a[0] * m[0] + a[1] * m[2], a[0] * m[1] + a[1] * m[3], a[2] * m[0] + a[3] * m[2],
                 a[2] * m[1] + a[3] * m[3]],
                [a[0] * o[0] + a[1] * o[1] + b[0], a[2] * o[0] + a[3] * o[1] + b[1]])
affine = dict(t)
affine["stages"] = [{"type": "affine", "combine": "compose", "matrix": m, "offset": o}]
json.dump(affine, open(out_json, "w"))

det = m[0] * m[3] - m[1] * m[2]
inv = [m[3] / det, -m[1] / det, -m[2] / det, m[0] / det]
c = [o[0] + 0.5, o[1] + 0.5]
x0 = 0.5 - (inv[0] * c[0] + inv[1] * c[1])
y0 = 0.5 - (inv[2] * c[0] + inv[3] * c[1])
gt = [x0, inv[0], inv[1], -y0, -inv[2], -inv[3]]
subprocess.run(["gdal_translate", "-q", "-of", "VRT", "-a_srs", "EPSG:3857", scan, out_vrt], check=True)
text = open(out_vrt).read()
gt_xml = "<GeoTransform>" + ", ".join(repr(v) for v in gt) + "</GeoTransform>"
if "<GeoTransform>" in text:
    import re
    text = re.sub(r"<GeoTransform>.*?</GeoTransform>", gt_xml, text, flags=re.S)
else:
    text = text.replace("<SRS", gt_xml + "\n  <SRS", 1)
open(out_vrt, "w").write(text)
