# Sourced by the Slurm tests: the slurm.conf settings both clusters share (one node on loopback,
# two nodes in namespaces). The ones that make a real Slurm run on one machine as root without
# cgroups or accounting are explained in docs/slurm.md, "A test cluster on one machine".
#   write_slurm_conf FILE CLUSTER CTLD_HOST_AND_ADDR CTLD_PORT SLURMD_PORT STATE_DIR < extra lines
# The extra lines (standard input: the test's own settings, its NodeName lines) go before the
# partition, which takes every node.
write_slurm_conf() {
  local file=$1 cluster=$2 host=$3 ctl_port=$4 slurmd_port=$5 dir=$6
  {
    cat <<CONF
ClusterName=${cluster}
SlurmctldHost=${host}
SlurmctldPort=${ctl_port}
SlurmdPort=${slurmd_port}
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
StateSaveLocation=${dir}/state
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmctldLogFile=${dir}/slurmctld.log
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
KillWait=5
MinJobAge=600
SchedulerParameters=sched_interval=2
CONF
    cat
    echo "PartitionName=test Nodes=ALL Default=YES State=UP MaxTime=INFINITE OverSubscribe=FORCE:4"
  } >"$file"
}
