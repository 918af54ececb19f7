#!/usr/bin/env python3
"""Regenerates tests/fixtures/elastix/<case>/TransformParameters.*.txt with the real elastix.

Small smooth synthetic pairs (pure Python, no numpy) are written as float .mhd/.raw with
ElementSpacing f f and Offset (f-1)/2 (f = 2), the alinify convention that makes elastix's
physical coordinates full-resolution pixel coordinates. elastix runs the presets of
configs/elastix (with a few overrides that keep runs short and B-spline grids small) and only
the TransformParameters files are kept. InitialTransformParametersFileName links are rewritten
to names relative to the referring file's folder, so the fixtures are relocatable.

Cases:
  rigid          configs/elastix/rigid.txt (EulerTransform)
  affine         configs/elastix/affine.txt (AffineTransform)
  bspline        affine.txt then bspline.txt (chain of 2, Compose)
  euler_add      EulerTransform then a BSplineTransform stage with HowToCombineTransforms "Add"
                 (Debian's elastix 5.0.1 is built without SimilarityTransform, so Similarity is
                 covered by hand-written files in the unit tests)
  initial        -t0 TranslationTransform (hand-written) then rigid.txt (chain of 2)

Usage: tools/make_elastix_fixtures.py [--out tests/fixtures/elastix] [--keep-work DIR]
"""
import argparse
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F = 2  # registration factor: spacing f, origin (f-1)/2


def pattern(x, y):
    """A smooth design image in full-resolution pixel coordinates."""
    blobs = [(30, 40, 14, 1.0), (120, 50, 18, 0.8), (70, 110, 12, -0.7), (150, 140, 20, 0.9),
             (40, 150, 16, 0.6), (100, 80, 10, -0.5), (170, 30, 12, 0.7), (60, 70, 9, 0.8)]
    v = 0.3 * math.sin(x / 23.0) * math.cos(y / 31.0)
    for cx, cy, s, a in blobs:
        v += a * math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
    return v


def write_mhd(path, w, h, fn):
    """w x h registration pixels; pixel (i, j) sits at full-res (f*i + (f-1)/2, f*j + (f-1)/2).
    The value is the mean of fn over the f x f full-res pixels it covers (as decimation does)."""
    off = (F - 1) / 2.0
    vals = []
    for j in range(h):
        for i in range(w):
            s = 0.0
            for b in range(F):
                for a in range(F):
                    s += fn(F * i + a, F * j + b)
            vals.append(s / (F * F))
    raw = os.path.basename(path)[:-4] + ".raw"
    with open(os.path.join(os.path.dirname(path), raw), "wb") as f:
        f.write(struct.pack("<%df" % len(vals), *vals))
    with open(path, "w") as f:
        f.write("ObjectType = Image\nNDims = 2\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
                "CompressedData = False\nTransformMatrix = 1 0 0 1\n"
                f"Offset = {off} {off}\nCenterOfRotation = 0 0\nAnatomicalOrientation = ??\n"
                f"ElementSpacing = {F} {F}\nDimSize = {w} {h}\nElementType = MET_FLOAT\n"
                f"ElementDataFile = {raw}\n")


def scan_fn(x, y):
    """The scan: design seen through the inverse of a smooth map (rotation, scale, shear, wobble).
    design point = G(scan point)."""
    cx, cy = 95.0, 85.0
    a = math.radians(4.0)
    u, v = x - cx - 6.0, y - cy + 4.0
    gx = 1.03 * (math.cos(a) * u + math.sin(a) * v) + 0.02 * v + cx
    gy = 0.98 * (-math.sin(a) * u + math.cos(a) * v) + cy
    gx += 1.5 * math.sin(y / 40.0)
    gy += 1.2 * math.cos(x / 45.0)
    return pattern(gx, gy)


def preset(name, overrides):
    with open(os.path.join(ROOT, "configs", "elastix", name)) as f:
        text = f.read()
    for key, value in overrides.items():
        line = f"({key} {value})"
        text, n = re.subn(r"^\(%s\s[^\n]*\)" % key, line, text, flags=re.M)
        if n == 0:
            text += line + "\n"
    return text


FAST = {"MaximumNumberOfIterations": "200", "NumberOfResolutions": "3", "NumberOfSpatialSamples": "2000"}
SMALL_BSPLINE = dict(FAST, FinalGridSpacingInPhysicalUnits="64", GridSpacingSchedule="2.0 1.0 1.0")


def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-4000:])
        sys.exit(f"failed: {' '.join(cmd)}")


def keep(work_out, dest, extra=()):
    """Copies TransformParameters.*.txt (and extra files) to dest, rewriting links to basenames."""
    os.makedirs(dest, exist_ok=True)
    names = sorted(n for n in os.listdir(work_out) if re.fullmatch(r"TransformParameters\.\d+\.txt", n))
    for src in [os.path.join(work_out, n) for n in names] + list(extra):
        with open(src) as f:
            text = f.read()

        def rel(m):
            target = m.group(1)
            if target == "NoInitialTransform":
                return m.group(0)
            return f'(InitialTransformParametersFileName "{os.path.basename(target)}")'

        text = re.sub(r'\(InitialTransformParametersFileName "([^"]*)"\)', rel, text)
        with open(os.path.join(dest, os.path.basename(src)), "w") as f:
            f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "elastix"))
    ap.add_argument("--keep-work", default=None)
    args = ap.parse_args()
    if not shutil.which("elastix"):
        sys.exit("elastix not found on PATH")
    work = args.keep_work or tempfile.mkdtemp(prefix="alinify-elx-")
    os.makedirs(work, exist_ok=True)
    write_mhd(os.path.join(work, "fixed.mhd"), 96, 88, pattern)
    write_mhd(os.path.join(work, "moving.mhd"), 100, 92, scan_fn)

    def params(name, text):
        p = os.path.join(work, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    rigid = params("rigid.txt", preset("rigid.txt", FAST))
    affine = params("affine.txt", preset("affine.txt", FAST))
    bspline = params("bspline.txt", preset("bspline.txt", SMALL_BSPLINE))
    bsp_add = params("bspline_add.txt", preset("bspline.txt", dict(SMALL_BSPLINE, HowToCombineTransforms='"Add"')))
    init = params("initial_translation.txt", """(Transform "TranslationTransform")
(NumberOfParameters 2)
(TransformParameters 5.5 -3.25)
(InitialTransformParametersFileName "NoInitialTransform")
(HowToCombineTransforms "Compose")
(FixedImageDimension 2)
(MovingImageDimension 2)
(FixedInternalImagePixelType "float")
(MovingInternalImagePixelType "float")
(Size 96 88)
(Index 0 0)
(Spacing 2 2)
(Origin 0.5 0.5)
(Direction 1 0 0 1)
(UseDirectionCosines "true")
(ResampleInterpolator "FinalBSplineInterpolator")
(FinalBSplineInterpolationOrder 3)
(Resampler "DefaultResampler")
(DefaultPixelValue 0)
(ResultImageFormat "mha")
(ResultImagePixelType "float")
(CompressResultImage "false")
""")
    cases = {
        "rigid": ([rigid], None),
        "affine": ([affine], None),
        "bspline": ([affine, bspline], None),
        "euler_add": ([rigid, bsp_add], None),
        "initial": ([rigid], init),
    }
    for case, (plist, t0) in cases.items():
        out = os.path.join(work, case)
        os.makedirs(out, exist_ok=True)
        cmd = ["elastix", "-f", "fixed.mhd", "-m", "moving.mhd", "-out", case]
        for p in plist:
            cmd += ["-p", p]
        if t0:
            cmd += ["-t0", t0]
        print("running", case, flush=True)
        run(cmd, work)
        dest = os.path.join(args.out, case)
        shutil.rmtree(dest, ignore_errors=True)
        keep(out, dest, [t0] if t0 else [])
    if not args.keep_work:
        shutil.rmtree(work)
    print("fixtures written to", args.out)


if __name__ == "__main__":
    main()
