#!/usr/bin/env python3
"""The Python route users leave behind, rebuilt the way the earlier tool worked, for bench/run.sh.

  python_route.py register DESIGN SCAN WORKDIR [--side 1024]
      Both images to grey, downsampled by one factor so that the longer side of the larger image
      is --side pixels; PyPI's itk-elastix registers them (its default affine + bspline maps).
      Writes WORKDIR/TransformParameters.{0,1}.txt (what elastix wrote), WORKDIR/grid.npy (the
      sampling positions of every small design pixel, from transformix's deformation field) and
      WORKDIR/transform.json: the same chain in full-resolution pixels, so `alinify eval` can
      score it.
  python_route.py warp SCAN WORKDIR OUT.tif [--interp bilinear|bicubic]
      The full scan as one float32 tensor, the small grid upsampled to a full-size sampling grid,
      torch.nn.functional.grid_sample, uint8, a tiled BigTIFF: the whole image in memory, which
      is how the earlier tool ran out of it.

Runs in the virtual environment bench/run.sh --python-route makes under the cache folder
(itk-elastix, torch, tifffile, numpy from PyPI); nothing in the build or the tests needs it.

Coordinates: a small pixel u is full-resolution pixel S(u) = F u + (F - 1)/2 per axis, with
F = (fx, fy) the same for design and scan (torch's antialiased resize with an explicit scale
maps pixel centres exactly so). Converting elastix's chain to full resolution is then S T S^-1,
stage by stage: an affine keeps F M F^-1 and gets a new offset; a B-spline's grid origin and
spacing and its coefficients are scaled.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import tifffile
import torch
import torch.nn.functional as tf


def log(msg):
    print(f"[python-route] {msg}", file=sys.stderr, flush=True)


def read_rgb(path):
    img = tifffile.imread(path)
    if img.ndim != 3 or img.shape[2] < 3:
        sys.exit(f"{path}: expected an RGB image, got shape {img.shape}")
    return img[:, :, :3]


def grey_small(path, scale_xy):
    """Full image -> grey float32 -> antialiased bilinear resize by exactly 1/scale per axis."""
    rgb = torch.from_numpy(read_rgb(path))
    grey = (rgb[:, :, 0].float() * 0.299 + rgb[:, :, 1].float() * 0.587 + rgb[:, :, 2].float() * 0.114)
    del rgb
    small = tf.interpolate(grey[None, None], scale_factor=(1 / scale_xy[1], 1 / scale_xy[0]), mode="bilinear",
                           antialias=True, align_corners=False, recompute_scale_factor=False)
    return small[0, 0].numpy()


def numbers(pm, key):
    return [float(v) for v in pm[key]]


def to_full(F, axis, u):
    """S: small pixel coordinate u on `axis` -> full-resolution pixel coordinate."""
    return F[axis] * u + (F[axis] - 1) / 2


def full_resolution_stages(maps, F):
    """elastix parameter maps (innermost first) at small scale -> alinify transform.json stages."""
    k = [to_full(F, 0, 0), to_full(F, 1, 0)]
    stages = []
    for pm in maps:
        kind = pm["Transform"][0]
        combine = "add" if pm.get("HowToCombineTransforms", ("Compose",))[0] == "Add" else "compose"
        p = numbers(pm, "TransformParameters")
        if kind == "AffineTransform":
            m, t = p[:4], p[4:6]
            c = numbers(pm, "CenterOfRotationPoint")
            o = [c[0] + t[0] - m[0] * c[0] - m[1] * c[1], c[1] + t[1] - m[2] * c[0] - m[3] * c[1]]
            mf = [m[0], m[1] * F[0] / F[1], m[2] * F[1] / F[0], m[3]]  # F M F^-1
            off = [to_full(F, 0, o[0]) - mf[0] * k[0] - mf[1] * k[1], to_full(F, 1, o[1]) - mf[2] * k[0] - mf[3] * k[1]]
            stages.append({"combine": combine, "type": "affine", "matrix": mf, "offset": off})
        elif kind == "BSplineTransform":
            if numbers(pm, "GridDirection") != [1.0, 0.0, 0.0, 1.0]:
                sys.exit("python route: a rotated B-spline grid is not converted")
            size = [int(v) for v in pm["GridSize"]]
            origin, spacing = numbers(pm, "GridOrigin"), numbers(pm, "GridSpacing")
            n = size[0] * size[1]
            stages.append({"combine": combine, "type": "bspline", "order": int(pm["BSplineTransformSplineOrder"][0]),
                           "grid_size": size, "grid_origin": [to_full(F, i, origin[i]) for i in range(2)],
                           "grid_spacing": [F[i] * spacing[i] for i in range(2)], "grid_direction": [1, 0, 0, 1],
                           "coefficients_x": [F[0] * v for v in p[:n]], "coefficients_y": [F[1] * v for v in p[n:]]})
        else:
            sys.exit(f"python route: elastix transform {kind} is not converted")
    return stages


def register(args):
    import itk  # PyPI's itk-elastix

    t0 = time.monotonic()
    design_hw = tifffile.TiffFile(args.design).pages[0].shape[:2]
    scan_hw = tifffile.TiffFile(args.scan).pages[0].shape[:2]
    f = max(max(design_hw), max(scan_hw)) / args.side
    # One factor for both images, adjusted per axis so the small design has whole pixels: the
    # full-size grid is then an exact upsampling of the small one.
    small_d = (max(1, round(design_hw[0] / f)), max(1, round(design_hw[1] / f)))
    F = (design_hw[1] / small_d[1], design_hw[0] / small_d[0])
    fixed = grey_small(args.design, F)
    moving = grey_small(args.scan, F)
    log(f"registering {fixed.shape[1]}x{fixed.shape[0]} to {moving.shape[1]}x{moving.shape[0]} "
        f"(1/{F[0]:.3f}, read + resize {time.monotonic() - t0:.1f} s)")
    po = itk.ParameterObject.New()
    for name in ("affine", "bspline"):
        po.AddParameterMap(po.GetDefaultParameterMap(name))
    os.makedirs(args.workdir, exist_ok=True)
    t1 = time.monotonic()
    moving_image = itk.GetImageFromArray(np.ascontiguousarray(moving))  # registered, then its field
    _, tpo = itk.elastix_registration_method(itk.GetImageFromArray(np.ascontiguousarray(fixed)), moving_image,
                                             parameter_object=po, output_directory=args.workdir,
                                             log_to_console=False)
    log(f"elastix {time.monotonic() - t1:.1f} s")
    maps = [dict(tpo.GetParameterMap(i)) for i in range(tpo.GetNumberOfParameterMaps())]
    # Where each small design pixel samples the small scan: identity + transformix's field.
    # (output_directory: transformix writes deformationField.nii there, not into the caller's folder)
    field = itk.GetArrayFromImage(itk.transformix_deformation_field(moving_image, tpo,
                                                                  output_directory=args.workdir))
    h, w = fixed.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    np.save(os.path.join(args.workdir, "grid.npy"),
            np.stack([xx + field[..., 0], yy + field[..., 1]], axis=-1).astype(np.float32))
    doc = {"format": "alinify-transform", "version": 1,
           "design": {"width": design_hw[1], "height": design_hw[0]},
           "scan": {"width": scan_hw[1], "height": scan_hw[0]},
           "registration_factor": max(1, round(F[0])), "preset": "python-route (itk-elastix default affine + bspline)",
           "stages": full_resolution_stages(maps, F), "small_scale": list(F)}
    with open(os.path.join(args.workdir, "transform.json"), "w") as fh:
        json.dump(doc, fh)
    log(f"register done in {time.monotonic() - t0:.1f} s")


def warp(args):
    t0 = time.monotonic()
    doc = json.load(open(os.path.join(args.workdir, "transform.json")))
    F = doc["small_scale"]
    W, H = doc["design"]["width"], doc["design"]["height"]
    scan = torch.from_numpy(read_rgb(args.scan)).permute(2, 0, 1)[None].float()  # the float32 copy
    Hs, Ws = scan.shape[2], scan.shape[3]
    small = torch.from_numpy(np.load(os.path.join(args.workdir, "grid.npy")))
    # small scan pixel u -> full pixel F u + (F - 1)/2 -> grid_sample's [-1, 1] (align_corners=False)
    nx = (2 * to_full(F, 0, small[..., 0]) + 1) / Ws - 1
    ny = (2 * to_full(F, 1, small[..., 1]) + 1) / Hs - 1
    grid = tf.interpolate(torch.stack([nx, ny])[None], size=(H, W), mode="bilinear", align_corners=False)
    grid = grid[0].permute(1, 2, 0)[None].contiguous()  # the full-size sampling grid
    log(f"read + grid {time.monotonic() - t0:.1f} s")
    t1 = time.monotonic()
    out = tf.grid_sample(scan, grid, mode=args.interp, padding_mode="zeros", align_corners=False)
    del scan, grid
    log(f"grid_sample {time.monotonic() - t1:.1f} s")
    rgb = out[0].round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    del out
    tifffile.imwrite(args.out, rgb, bigtiff=True, tile=(256, 256), photometric="rgb")
    log(f"warp done in {time.monotonic() - t0:.1f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("register")
    r.add_argument("design"), r.add_argument("scan"), r.add_argument("workdir")
    r.add_argument("--side", type=int, default=1024)
    w = sub.add_parser("warp")
    w.add_argument("scan"), w.add_argument("workdir"), w.add_argument("out")
    w.add_argument("--interp", choices=["bilinear", "bicubic"], default="bilinear")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    (register if args.cmd == "register" else warp)(args)


if __name__ == "__main__":
    main()
