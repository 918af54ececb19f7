#!/bin/bash
# Install like an operator (docs/install.md): `cmake --install --prefix` into a scratch prefix and
# its module file; `cpack -G DEB`, the package unpacked into a scratch root (no system install),
# whose binary, man page and Slurm script align a small synthetic pair with nothing from the checkout.
# Label install.
# usage: install_test.sh BUILD_DIR SOURCE_DIR VERSION
set -uo pipefail
BUILD=${1:?build folder}
SRC=${2:?source folder}
VER=${3:?project version}
. "$(dirname "${BASH_SOURCE[0]}")/../support/common.sh"
require_commands cpack dpkg-deb dpkg-shlibdeps file elastix
scratch_dir install
started=$SECONDS

# No test program, static library of a layer, GPU self-test or (component torch) LibTorch plugin
# in an install; FILE lists the installed paths.
check_only_operator_files() {
  local n
  n=$(grep -cE '\.a$|_tests$|alinify_gpu_selftest|libalinify_torch|/fuzz_' "$1")
  [ "$n" -eq 0 ] || fail "$2 installs what it must not: $(grep -E '\.a$|_tests$|selftest|torch|/fuzz_' "$1" | head -3)"
}

# --- cmake --install --prefix --------------------------------------------------------------------
P=$T/prefix
cmake --install "$BUILD" --prefix "$P" >"$T/install.log" 2>&1 || fail "cmake --install: $(tail -3 "$T/install.log")"
(cd "$P" && find . -type f -o -type l) >"$T/prefix.files"
check_only_operator_files "$T/prefix.files" "cmake --install"
[ "$(ls "$P/bin")" = alinify ] || fail "bin/ holds $(ls "$P/bin" | tr '\n' ' '), not alinify alone"
mod=$P/share/alinify/modulefiles/alinify/$VER
[ -f "$mod" ] || fail "no module file $mod"
[ "$(grep -cFx "set prefix \"$P\"" "$mod")" -eq 1 ] || fail "module file does not name the prefix $P: $(grep -n prefix "$mod")"

# The module file evaluated by Tcl with the module commands it uses as stand-ins (Lmod and
# Environment Modules are not dependencies): it must parse and point at what was installed.
if command -v tclsh >/dev/null; then
  cat >"$T/eval.tcl" <<'TCL'
proc prepend-path {var val} {
  if {[info exists ::env($var)] && $::env($var) ne ""} { set ::env($var) "$val:$::env($var)" } else { set ::env($var) $val }
}
proc setenv {var val} { set ::env($var) $val }
proc module-whatis {args} {}
proc conflict {args} {}
source [lindex $argv 0]
foreach v {PATH MANPATH ALINIFY ALINIFY_SLURM_DIR ALINIFY_PRESETS_DIR} { puts "$v=$::env($v)" }
TCL
  env -u MANPATH tclsh "$T/eval.tcl" "$mod" >"$T/module.env" 2>&1 || fail "tclsh cannot evaluate $mod: $(cat "$T/module.env")"
  getv() { sed -n "s/^$1=//p" "$T/module.env"; }
  [ "$(getv ALINIFY)" = "$P/bin/alinify" ] || fail "module: ALINIFY=$(getv ALINIFY)"
  [ -x "$(getv ALINIFY_SLURM_DIR)/pair.sbatch" ] || fail "module: ALINIFY_SLURM_DIR=$(getv ALINIFY_SLURM_DIR) has no pair.sbatch"
  [ -f "$(getv ALINIFY_PRESETS_DIR)/bspline.txt" ] || fail "module: ALINIFY_PRESETS_DIR=$(getv ALINIFY_PRESETS_DIR)"
  [ -f "$(getv MANPATH)/man1/alinify.1" ] || fail "module: MANPATH=$(getv MANPATH) has no man1/alinify.1"
  found=$(PATH=$(getv PATH) command -v alinify)
  [ "$found" = "$P/bin/alinify" ] || fail "with the module's PATH, alinify is '$found', not $P/bin/alinify"
  echo "  module file: parses (tclsh), PATH finds $found"
else
  echo "  module file: no tclsh, not evaluated"
fi

# --- cpack -G DEB ---------------------------------------------------------------------------------
(cd "$BUILD" && cpack -G DEB -B "$T/pkg") >"$T/cpack.log" 2>&1 || fail "cpack -G DEB: $(tail -5 "$T/cpack.log")"
deb=$T/pkg/alinify_${VER}_amd64.deb
[ -f "$deb" ] || fail "no $deb: $(ls "$T/pkg")"
dpkg-deb -I "$deb" >"$T/deb.info" || fail "dpkg-deb -I $deb"
depends=$(sed -n 's/^ Depends: //p' "$T/deb.info")
echo "  $(basename "$deb"): $(stat -c %s "$deb") bytes; Depends: $depends"
# elastix and mpirun are run as programs; the libraries come from dpkg-shlibdeps.
for d in elastix openmpi-bin libgdal libopenmpi libspdlog libboost-program-options; do
  case ", $depends" in *", $d"*) ;; *) fail "Depends lacks $d: $depends" ;; esac
done
dpkg-deb -c "$deb" | sed 's/.* \.\//\//' >"$T/deb.files" || fail "dpkg-deb -c $deb"
check_only_operator_files "$T/deb.files" "the .deb"
R=$T/root
dpkg-deb -x "$deb" "$R" || fail "dpkg-deb -x $deb"
[ "$(grep -cFx 'set prefix "/usr"' "$R/usr/share/alinify/modulefiles/alinify/$VER")" -eq 1 ] ||
  fail "the .deb's module file does not name /usr"

# The unpacked package alone: a minimal environment (none of ctest's ALINIFY_* variables that point
# into the checkout), with a stand-in srun on PATH.
A=$R/usr/bin/alinify
clean_env=(env -i "HOME=$T" "PATH=$T/stub:$R/usr/bin:/usr/bin:/bin")
"${clean_env[@]}" "$A" --help >"$T/help.txt" 2>&1 || fail "alinify --help: $(head -3 "$T/help.txt")"
[ "$(grep -c '^usage: alinify' "$T/help.txt")" -eq 1 ] || fail "alinify --help printed: $(head -3 "$T/help.txt")"
man=$R/usr/share/man/man1/alinify.1
ncmd=$(grep -cE '^  [a-z][a-z-]+  ' "$T/help.txt")
[ -f "$man" ] && [ "$(grep -c '^\.TH ALINIFY 1' "$man")" -eq 1 ] || fail "no man page alinify.1"
[ "$(grep -c '^\.SH "alinify ' "$man")" -eq "$ncmd" ] || fail "alinify.1 has not one section per command ($ncmd)"

# The Slurm scripts: executable, valid bash, no path into the checkout, the binary from $ALINIFY.
for s in pair batch batch_array; do
  f=$R/usr/share/alinify/slurm/$s.sbatch
  [ -x "$f" ] || fail "$f missing or not executable"
  bash -n "$f" || fail "$f: bash syntax"
  [ "$(grep -cF "$SRC" "$f")" -eq 0 ] || fail "$f names the source tree $SRC"
  [ "$(grep -cF 'ALINIFY=${ALINIFY:-alinify}' "$f")" -eq 1 ] || fail "$f does not take the binary from \$ALINIFY / PATH"
done
# The presets are compiled in: the binary names no file of the checkout's configs/.
[ "$(grep -acF "$SRC/configs" "$A")" -eq 0 ] || fail "the installed binary names $SRC/configs"

# pair.sbatch with the stand-in srun (it records the program it starts), so the script finds
# `alinify` on PATH as it does in a job: the installed binary aligns a small pair.
mkdir -p "$T/stub" "$T/work" || fail mkdir
cat >"$T/stub/srun" <<'SH'
#!/bin/bash
[ "$1" = --mpi=pmix ] && shift
command -v "$1" >"$HOME/srun.started"
exec "$@"
SH
chmod +x "$T/stub/srun"
cd "$T/work" || fail "cd $T/work"
"${clean_env[@]}" "$A" synth --out-dir P --width 600 --height 450 --seed 1 >synth.log 2>&1 || fail "synth: $(tail -3 synth.log)"
"${clean_env[@]}" bash "$R/usr/share/alinify/slurm/pair.sbatch" P/design.tif P/scan.tif O.tif >run.log 2>&1 ||
  fail "pair.sbatch: $(tail -5 run.log)"
[ "$(cat "$T/srun.started")" = "$A" ] || fail "pair.sbatch started '$(cat "$T/srun.started")', not $A"
[ -s O.tif ] && [ -s O.transform.json ] || fail "no O.tif / O.transform.json: $(tail -3 run.log)"
# The elastix files of the run are the installed presets, but for the affine one's automatic
# initialisation (src/reg/registration.cpp switches it off when it starts from a coarse transform)
# and the lightening that the refinement (on by default) asks for: 250 iterations a level, the
# B-spline stage on two levels, a first line that says so (src/reg/presets.cpp).
E=O.transform.elastix
changed='^// alinify: lightened|MaximumNumberOfIterations|NumberOfResolutions|GridSpacingSchedule|AutomaticTransformInitialization'
for f in 0.affine 1.bspline; do
  cmp -s <(grep -Ev "$changed" "$E/preset.$f.txt") <(grep -Ev "$changed" "$R/usr/share/alinify/elastix/${f#*.}.txt") ||
    fail "${f#*.} preset of the run differs from the installed one"
  [ "$(head -1 "$E/preset.$f.txt")" = "// alinify: lightened because the refinement follows (docs/registration.md)" ] &&
    grep -qxF '(MaximumNumberOfIterations 250)' "$E/preset.$f.txt" || fail "the run's ${f#*.} preset is not lightened"
done
grep -qxF '(NumberOfResolutions 2)' "$E/preset.1.bspline.txt" && grep -qxF '(GridSpacingSchedule 2.0 1.0)' "$E/preset.1.bspline.txt" ||
  fail "the run's B-spline stage is not on two levels"
"${clean_env[@]}" "$A" eval --transform O.transform.json --truth P/truth.json >eval.json 2>&1 || fail "eval: $(cat eval.json)"
maxerr=$(sed -n 's/.*"max":\([0-9.e+-]*\).*/\1/p' eval.json)
awk -v e="$maxerr" 'BEGIN { exit !(e != "" && e < 2) }' || fail "error against the truth: $(cat eval.json)"
echo "  pair.sbatch -> $A run: max error $maxerr px; presets as installed"
echo "PASS ($((SECONDS - started)) s)"
