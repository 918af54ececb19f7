#!/bin/bash
# Packs what bench/gpu/check.sh needs on a GPU machine that has none of our libraries (the device
# tool's machines: CUDA driver, no GDAL, ITK, Open MPI): the binaries, every shared library they
# load (and the dynamic loader, so the machine's own glibc does not matter), Open MPI's and PMIx's
# plugins, and the bench pair's registered transform. About 62 MB, most of it libs.tar.xz.
#   usage: bench/gpu/pack.sh [BUILD_DIR=build] [DEST=.dev] [CACHE=~/.cache/alinify-bench/18960x14960]
# DEST must be a folder of the checkout that git ignores (the device tool carries ignored folders
# named in `carry`): e.g. `echo /.dev/ >> .git/info/exclude`. Then, with the device tool:
#   run(command="bash bench/gpu/check.sh .dev", carry=[".dev"])
set -euo pipefail
BUILD=${1:-build}
DEST=${2:-.dev}
CACHE=${3:-$HOME/.cache/alinify-bench/18960x14960}
[ -f "$CACHE/t.json" ] || { echo "pack.sh: no $CACHE/t.json: run bench/run.sh once (it registers the pair)" >&2; exit 1; }
MCA=/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3
PMIX=/usr/lib/x86_64-linux-gnu/pmix2/lib/pmix
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$DEST" "$stage/libs" "$stage/mca/openmpi3" "$stage/mca/pmix"
bins=("$BUILD/bin/alinify" "$BUILD/bin/alinify_gpu_selftest" "$BUILD/tests/alinify_gpu_tests"
      /usr/bin/gdal_translate "$(readlink -f /usr/bin/mpirun)")
cp -L "$MCA"/mca_*.so "$stage/mca/openmpi3/"
cp -L "$PMIX"/*.so "$stage/mca/pmix/"
# The closure: what ldd resolves for the binaries and the plugins (the plugins are dlopened, so
# ldd of the binaries alone misses their libraries).
for f in "${bins[@]}" "$stage"/mca/*/*.so; do ldd "$f"; done |
  awk '/=>/ && $3 ~ /^\// {print $3} /ld-linux/ && $1 ~ /^\// {print $1}' | sort -u |
  while read -r lib; do cp -Ln "$lib" "$stage/libs/"; done
tar -C "$stage" -cf - libs mca | xz -T0 -9 >"$DEST/libs.tar.xz"
cp "${bins[@]}" "$DEST/"
strip "$DEST/alinify" "$DEST/alinify_gpu_tests"
mv "$DEST/$(basename "$(readlink -f /usr/bin/mpirun)")" "$DEST/mpirun"
cp "$CACHE/t.json" "$DEST/t.json"
(cd "$CACHE/pair" && sha256sum design.tif scan.tif) >"$DEST/pair.sha256"
git -C "$(dirname "$0")" rev-parse --short HEAD >"$DEST/commit"
du -sh "$DEST"
