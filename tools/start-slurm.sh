#!/usr/bin/env bash
# Make a one-node Slurm cluster available on a Debian 12 machine (run as root).
#
# - installs slurmd, slurmctld, slurm-client and munge from Debian apt when missing;
# - writes /etc/slurm/slurm.conf for this host (its CPUs and memory from `slurmd -C`) with one
#   partition `debug` (default), no cgroups (proctrack/linuxproc, task/none) and no accounting
#   database: finished jobs stay visible to `squeue --states=all` for MinJobAge seconds;
# - if the node is already up (`sinfo` says idle/mix/alloc), does nothing (idempotent, quiet);
# - otherwise starts munged, slurmctld and slurmd in the background (PID 1 here is not
#   systemd), logging under /var/log/slurm, and waits up to 60 s for the node to be idle.
# Unprivileged users (the test user `mlcube`) can then `sbatch`, `squeue` and `scancel`.
# Exits non-zero with a message on failure.
set -euo pipefail

log() { echo "start-slurm: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"

CONF=/etc/slurm/slurm.conf
LOG_DIR=/var/log/slurm

node_state() { sinfo -h -o '%t' 2>/dev/null | head -n 1 || true; }

if [[ -f $CONF ]] && command -v sinfo >/dev/null 2>&1; then
  case "$(node_state)" in
    idle | mix | alloc | comp) exit 0 ;;
  esac
fi

missing=()
for package in slurmd slurmctld slurm-client munge; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]} from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

HOST=$(hostname -s)
# `slurmd -C` prints this node's line: NodeName=H CPUs=N ... RealMemory=M
NODE_LINE=$(slurmd -C | head -n 1)
[[ $NODE_LINE == NodeName=* ]] || die "'slurmd -C' printed no node line"
# Leave some memory to the system so jobs asking for "all of it" still fit a partition.
NODE_LINE="$NODE_LINE State=UNKNOWN"

mkdir -p /etc/slurm "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd /run/munge /run/slurm
chown slurm:slurm "$LOG_DIR" /var/spool/slurmctld /run/slurm
chown munge:munge /run/munge
chmod 0755 /run/munge

conf_tmp=$(mktemp "$CONF.XXXXXX")
cat >"$conf_tmp" <<EOF
# Written by tools/start-slurm.sh: a one-node test cluster.
ClusterName=mlcube
SlurmctldHost=$HOST
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
# No cgroups on this machine: track processes by parentage, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# Finished jobs stay in squeue --states=all for 5 minutes; time limits act within seconds.
MinJobAge=300
KillWait=2
OverTimeLimit=0
InactiveLimit=0
SchedulerType=sched/backfill
$NODE_LINE
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
chmod 0644 "$conf_tmp"
mv "$conf_tmp" "$CONF"

if ! pgrep -x munged >/dev/null; then
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged || die "munged did not start"
fi
munge -n | unmunge >/dev/null 2>&1 || die "munge round trip failed (is munged running?)"

if pgrep -x slurmctld >/dev/null; then
  scontrol reconfigure >/dev/null 2>&1 || true
else
  log "starting slurmctld (log: $LOG_DIR/slurmctld.log)"
  setsid /usr/sbin/slurmctld </dev/null >>"$LOG_DIR/slurmctld.start" 2>&1 \
    || die "slurmctld did not start: $(tail -n 5 "$LOG_DIR/slurmctld.log" 2>/dev/null)"
fi
if ! pgrep -x slurmd >/dev/null; then
  log "starting slurmd (log: $LOG_DIR/slurmd.log)"
  setsid /usr/sbin/slurmd </dev/null >>"$LOG_DIR/slurmd.start" 2>&1 \
    || die "slurmd did not start: $(tail -n 5 "$LOG_DIR/slurmd.log" 2>/dev/null)"
fi

for i in $(seq 1 60); do
  state=$(node_state)
  case "$state" in
    idle | mix | alloc | comp)
      log "slurm is up: node $HOST $state, partition debug"
      exit 0
      ;;
    down* | drain* | drng*)
      # A node that was down before (earlier run, unclean stop) comes back on request.
      ((i % 5 == 0)) && scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
      ;;
  esac
  sleep 1
done
log "last lines of $LOG_DIR/slurmctld.log and slurmd.log:"
tail -n 15 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
die "node $HOST not idle after 60 s (sinfo: $(node_state))"
