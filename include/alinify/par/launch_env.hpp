#pragma once
// What alinify sets in its own environment before MPI_Init (par layer: nothing else reads these).
//
// Open MPI's MPI_Init opens every point-to-point layer it was built with and probes its networks
// (Debian's build: PSM, PSM2, libfabric, UCX) before it settles, on one node without such hardware,
// on ob1 over shared memory; the probing is about 0.2 s of every job
// (`mpirun -np 2 alinify --version`: 0.36-0.39 s, 0.16-0.19 s with OMPI_MCA_pml=ob1; `mpirun -np 2
// /bin/true`: 0.03 s; docs/performance-analysis.md). When mpirun says that every rank runs on this
// node, ob1 (Open MPI's shared-memory path, vader) is what the ranks need, so alinify asks for it,
// unless someone chose the layer already: OMPI_MCA_pml in the environment (`mpirun --mca pml X`
// puts it there) or an include list for `pml` in an Open MPI parameter file. Jobs across nodes
// are left to Open MPI's choice (an InfiniBand cluster wants UCX there).
#include <functional>
#include <string>
#include <vector>

namespace alinify::par {

// The value for OMPI_MCA_pml, or empty to leave Open MPI's choice. `env` reads the environment
// (nullptr when unset); `param_files` are the texts of the Open MPI parameter files that exist.
std::string pml_for_this_launch(const std::function<const char*(const char*)>& env,
                                const std::vector<std::string>& param_files);

// Reads the environment and Open MPI's parameter files ($HOME/.openmpi/mca-params.conf and
// /etc/openmpi/openmpi-mca-params.conf) and sets OMPI_MCA_pml when pml_for_this_launch says so.
void choose_pml_before_init();

}  // namespace alinify::par
