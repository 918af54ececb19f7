#!/bin/bash
# mpirun for CTest's MPI tests: CMake cannot know whether ctest will run as root, so the root-only
# flag is decided here, when the test runs.   usage: mpirun.sh MPIRUN MPIRUN-ARGS...
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MPIRUN=${1:?mpirun}
shift
mpi_launcher
exec "${MPI[@]}" "$@"
