#!/usr/bin/env bash
# A single-node Slurm on this machine for the cluster test (Debian's slurm-wlm and munge, run as root).
#   .ci/slurm.sh install   apt-get the packages (CI does this; needs root and Debian's registry)
#   .ci/slurm.sh start     write /etc/slurm/slurm.conf, start munged, slurmctld, slurmd; wait for the node
#   .ci/slurm.sh stop      stop the daemons, and wait until they are gone
#   .ci/slurm.sh running   exit 0 when the controller runs
set -euo pipefail
STATE=/var/tmp/udistil-slurm

install() {
    if command -v slurmctld >/dev/null && command -v munged >/dev/null; then return; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
}

start() {
    local host mem
    host=$(hostname -s)
    mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))
    mkdir -p "$STATE"/{ctld,d,log} /etc/slurm /run/munge
    chown munge:munge /run/munge
    [ -s /etc/munge/munge.key ] || /usr/sbin/mungekey --create >/dev/null 2>&1 || true
    pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged
    cat >/etc/slurm/slurm.conf <<CONF
ClusterName=udistil
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
ReturnToService=2
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
NodeName=$host CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    running || slurmctld
    pgrep -x slurmd >/dev/null || slurmd
    for _ in $(seq 60); do
        if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then sinfo; return 0; fi
        sleep 1
    done
    echo "slurm node did not come up; logs in $STATE/log" >&2
    sinfo >&2 || true
    return 1
}

stop() {
    pkill -x slurmd || true
    pkill -x slurmctld || true
    pkill -x munged || true
    for _ in $(seq 50); do
        pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || pgrep -x munged >/dev/null || return 0
        sleep 0.2
    done
}

running() {
    pgrep -x slurmctld >/dev/null
}

"${1:?usage: $0 install|start|stop|running}"
