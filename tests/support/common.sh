# Helpers the bash tests share; source it from a test script:
#   . "$(dirname "${BASH_SOURCE[0]}")/../support/common.sh"

fail() { echo "FAIL: $*"; exit 1; }
# Exit 77 is the skip code CTest is told (SKIP_RETURN_CODE).
skip() { echo "SKIP: $*"; exit 77; }
require_commands() { local c; for c in "$@"; do command -v "$c" >/dev/null || skip "no $c"; done; }

# scratch_dir NAME: T is a fresh folder under ALINIFY_TEST_TMP, removed when the script exits unless
# ALINIFY_KEEP_TEST_FILES is set. A script never goes on without it: with an empty $T the scripts'
# leftover-process clean-up (pkill -f "$T/") would match every process on the machine.
scratch_dir() {
  mkdir -p "${ALINIFY_TEST_TMP:-/tmp}"
  T=$(mktemp -d "${ALINIFY_TEST_TMP:-/tmp}/$1.XXXXXX") || { echo "cannot create a scratch folder under ${ALINIFY_TEST_TMP:-/tmp}" >&2; exit 1; }
  [ -n "$T" ] && [ -d "$T" ] || exit 1
  trap '[ -n "${ALINIFY_KEEP_TEST_FILES:-}" ] || rm -rf "$T"' EXIT
}

# mpi_launcher [MPIRUN-OPTIONS...]: MPI=(mpirun --oversubscribe OPTIONS...). Open MPI refuses root
# without --allow-run-as-root, so the flag is added only then (as ./dev's mpirun_cmd does).
# MPIRUN names another mpirun than the one on PATH.
mpi_launcher() {
  MPI=("${MPIRUN:-mpirun}" --oversubscribe "$@")
  [ "$(id -u)" -ne 0 ] || MPI+=(--allow-run-as-root)
}
