#!/usr/bin/env python3
"""Writes the small hand-made files of the bad-input corpus (bad_input_corpus.sh) into DIR.

Everything is generated at test time: no binary fixtures in git. Rasters that GDAL can make
(signed 16-bit, float, 2-band, ...) are made by the shell script with gdal_translate; this script writes
what no tool writes on purpose: lying headers, broken JSON, hostile parameter files.
usage: make_bad_inputs.py DIR DESIGN_W DESIGN_H SCAN_PATH
"""
import json
import os
import struct
import sys
import zlib

out, W, H, scan = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.makedirs(out, exist_ok=True)


def write(name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(out, name), mode) as f:
        f.write(data)


def tiff_claiming(width, height):
    """A classic little-endian TIFF whose header claims width x height grey pixels in one strip,
    with 64 bytes of pixel data: the file is tiny, the claim is 10^12 pixels."""
    tags = [  # (tag, type, count, value); type 3 SHORT, 4 LONG
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
        (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 64)]
    ifd_offset = 8 + 64
    body = b"II*\x00" + struct.pack("<I", ifd_offset) + bytes(64)
    ifd = struct.pack("<H", len(tags))
    for tag, typ, count, value in tags:
        packed = struct.pack("<HI", value, 0)[:4] if typ == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, count) + packed
    ifd += struct.pack("<I", 0)
    return body + ifd


def png_claiming(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


write("huge_header.tif", tiff_claiming(1000000, 1000000))
write("huge_header.png", png_claiming(1000000, 1000000))
write("text.tif", "this is not an image\n")
write("empty.tif", b"")

# A VRT reads any file the process can read (here: the scan, but it could be /etc/shadow) and
# can run pixel functions: refused unless --gdal-drivers names VRT.
vrt = f"""<VRTDataset rasterXSize="{W}" rasterYSize="{H}">
""" + "".join(f"""  <VRTRasterBand dataType="Byte" band="{b}">
    <SimpleSource><SourceFilename relativeToVRT="0">{scan}</SourceFilename><SourceBand>{b}</SourceBand></SimpleSource>
  </VRTRasterBand>
""" for b in (1, 2, 3)) + "</VRTDataset>\n"
write("pulls_files.vrt", vrt)
write("vrt_renamed.tif", vrt)


def transform(stages, version=1, design=(W, H), scan_size=(W, H)):
    return {"format": "alinify-transform", "version": version, "design": {"width": design[0], "height": design[1]},
            "scan": {"width": scan_size[0], "height": scan_size[1]}, "registration_factor": 1, "preset": "hand",
            "stages": stages}


identity = [{"type": "affine", "combine": "compose", "matrix": [1, 0, 0, 1], "offset": [0, 0]}]
write("identity.json", json.dumps(transform(identity)))
text = json.dumps(transform(identity))
write("truncated.json", text[: len(text) // 2])
write("wrong_version.json", json.dumps(transform(identity, version=99)))
write("nan.json", text.replace('"offset": [0, 0]', '"offset": [NaN, 0]'))
write("infinite.json", text.replace('"offset": [0, 0]', '"offset": [1e999, 0]'))
write("other_design.json", json.dumps(transform(identity, design=(999, 777))))
write("far.json", json.dumps(transform([{"type": "affine", "combine": "compose", "matrix": [1, 0, 0, 1],
                                          "offset": [50 * W, 0]}])))
huge_grid = {"type": "bspline", "combine": "add", "order": 3, "grid_size": [31623, 31623], "grid_origin": [0, 0],
             "grid_spacing": [1, 1], "grid_direction": [1, 0, 0, 1], "coefficients_x": [0] * 4,
             "coefficients_y": [0] * 4}
write("billion_coefficients.json", json.dumps(transform(identity + [huge_grid])))

write("malformed_params.txt", '(Transform "AffineTransform"\n(Metric "AdvancedMattesMutualInformation")\n')
write("unknown_transform_params.txt", '(Transform "WarpDriveTransform")\n(Metric "AdvancedMattesMutualInformation")\n')
write("nan_params.txt", '(Transform "AffineTransform")\n(MaximumStepLength nan)\n')
write("negative_iterations_params.txt", '(Transform "AffineTransform")\n(MaximumNumberOfIterations -5)\n')

write("points_no_xy.csv", "id,a,b\n1,2,3\n")
write("points_text.csv", "x,y\n10,ten\n")
write("points_nan.csv", "x,y\n10,nan\n")
write("points_short_row.csv", "id,x,y\n1,2\n")

d, s = os.path.join(out, "design_copy.tif"), os.path.join(out, "scan_copy.tif")
write("manifest_duplicate_out.csv", f"id,design,scan,out\na,{d},{s},o/a.tif\nb,{d},{s},o/a.tif\n")
write("manifest_missing_column.csv", f"id,design,out\na,{d},o/a.tif\n")
write("manifest_out_is_input.csv", f"id,design,scan,out\na,{d},{s},{s}\n")
write("manifest_bad_line.jsonl", '{"id": "a", "design": "x"\n')
# Every bad value of a row is listed, not only the first (each column checked like its option).
write("manifest_bad_values.csv", "id,design,scan,out,mem-budget,job-timeout,interp,compress,fill,"
      f"registration-max-pixels,elastix-threads\na,{d},{s},o/a.tif,lots,-4,cubic,lzw,300,5,-1\n")
# 30 broken rows: the first 20 problems are listed, then "... and 10 more".
write("manifest_many_problems.csv", "id,design,scan,out\n" + "".join(f"row{i}\n" for i in range(30)))
write("manifest_ok.csv", f"id,design,scan,out\na,{d},{s},o/a.tif\n")
