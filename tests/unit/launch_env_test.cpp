// par/launch_env.hpp: when alinify asks Open MPI for ob1 before MPI_Init, and when it leaves the
// choice alone. The environment and the parameter files are given, not read.
#include "alinify/par/launch_env.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

using namespace alinify;

namespace {

std::string choice(const std::map<std::string, std::string>& vars, const std::vector<std::string>& files = {}) {
  return par::pml_for_this_launch(
      [&](const char* name) -> const char* {
        const auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
      },
      files);
}

const std::map<std::string, std::string> kOneNode{{"OMPI_COMM_WORLD_SIZE", "3"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "3"}};

}  // namespace

TEST(LaunchEnv, EveryRankOnThisNodeAsksForOb1) { EXPECT_EQ(choice(kOneNode), "ob1"); }

TEST(LaunchEnv, RanksOnSeveralNodesLeaveOpenMpiToChoose) {
  EXPECT_EQ(choice({{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}}), "");
}

TEST(LaunchEnv, WithoutMpirunNothingIsChosen) {
  EXPECT_EQ(choice({}), "");
  EXPECT_EQ(choice({{"PMIX_RANK", "0"}}), "");  // srun: the node count is not known here
}

TEST(LaunchEnv, AChoiceAlreadyMadeIsKept) {
  auto vars = kOneNode;
  vars["OMPI_MCA_pml"] = "ucx";
  EXPECT_EQ(choice(vars), "");
  EXPECT_EQ(choice(kOneNode, {"# site\nbtl = ^openib\npml = ucx  # the fabric\n"}), "");
}

TEST(LaunchEnv, AnExclusionListInAParameterFileStillAllowsOb1) {
  // Debian's /etc/openmpi/openmpi-mca-params.conf excludes UCX; ob1 is what Open MPI takes then.
  EXPECT_EQ(choice(kOneNode, {"mtl = ^ofi\npml = ^ucx\nosc = ^ucx,pt2pt\n"}), "ob1");
  EXPECT_EQ(choice(kOneNode, {"# pml = ucx\npml_ucx_verbose = 1\n"}), "ob1");
}
