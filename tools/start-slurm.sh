#!/usr/bin/env bash
# Make a small Slurm cluster available on a Debian 12 machine (run as root).
#
# - partition `debug` (default): this machine as one node;
# - partition `multi`: two more nodes, n1 and n2, each a slurmd in a network namespace of its
#   own (10.77.0.11 and .12 on the bridge mlcslurm0, 10.77.0.1 on this side) with its own
#   hostname (UTS namespace) and spool and pid directories (mount namespace), so a job of
#   several nodes runs its ranks on two "hosts" that reach each other over TCP. Their names go
#   into /etc/hosts; bridged traffic is let through Docker's FORWARD policy. The filesystem
#   stays shared, as a cluster's shared filesystem would be.
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

MULTI_NET=10.77.0
BRIDGE=mlcslurm0
MULTI_NODES=(n1 n2)

# "STATE" of node $1 (idle, down*, ...), empty when unknown.
node_state() { sinfo -h -N -n "$1" -o '%t' 2>/dev/null | head -n 1 || true; }
node_up() {
  case "$(node_state "$1")" in
    idle | mix | alloc | comp) return 0 ;;
  esac
  return 1
}
all_up() {
  local node
  for node in "$(hostname -s)" "${MULTI_NODES[@]}"; do node_up "$node" || return 1; done
}

if [[ -f $CONF ]] && command -v sinfo >/dev/null 2>&1 && all_up; then
  exit 0
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

# The bridge the multi nodes hang on, and Docker's FORWARD DROP opened for it.
setup_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge || die "cannot create bridge $BRIDGE"
    ip addr add "$MULTI_NET.1/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  if command -v iptables >/dev/null 2>&1; then
    iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null \
      || iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  fi
}

# Node $1 (address $MULTI_NET.$2): its namespace, veth, /etc/hosts line.
setup_node_net() {
  local node=$1 address=$MULTI_NET.$2 ns=mlcslurm-$1
  if ! ip netns list | grep -qw "$ns"; then
    ip netns add "$ns"
    ip link add "mlcs-$node" type veth peer name "mlcs-$node-in"
    ip link set "mlcs-$node-in" netns "$ns"
    ip link set "mlcs-$node" master "$BRIDGE"
    ip link set "mlcs-$node" up
    ip netns exec "$ns" ip addr add "$address/24" dev "mlcs-$node-in"
    ip netns exec "$ns" ip link set "mlcs-$node-in" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip route add default via "$MULTI_NET.1"
  fi
  grep -qE "^${address}[[:space:]]+${node}\$" /etc/hosts || echo "$address $node" >>/etc/hosts
}

# slurmd of node $1 inside its namespaces, its spool and pid directories its own (nsenter,
# not `ip netns exec`, which mounts a new /sys without /sys/fs/cgroup).
start_node_slurmd() {
  local node=$1
  pgrep -f "slurmd -N $node\b" >/dev/null && return 0
  mkdir -p "/var/spool/slurmd-$node" "/run/slurm-$node"
  log "starting slurmd of $node (log: $LOG_DIR/slurmd-$node.log)"
  nsenter --net="/run/netns/mlcslurm-$node" unshare --uts --mount --propagation private sh -c \
    "hostname $node && mount --bind /var/spool/slurmd-$node /var/spool/slurmd && \
     mount --bind /run/slurm-$node /run/slurm && \
     exec setsid /usr/sbin/slurmd -N $node -L $LOG_DIR/slurmd-$node.log" \
    </dev/null >>"$LOG_DIR/slurmd-$node.start" 2>&1 \
    || die "slurmd of $node did not start: $(tail -n 5 "$LOG_DIR/slurmd-$node.log" 2>/dev/null)"
}
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
# The bridge's address: the nodes in their network namespaces reach it too.
SlurmctldHost=$HOST($MULTI_NET.1)
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
NodeName=n1 NodeAddr=$MULTI_NET.11 CPUs=2 RealMemory=1000 State=UNKNOWN
NodeName=n2 NodeAddr=$MULTI_NET.12 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=multi Nodes=n1,n2 MaxTime=INFINITE State=UP
EOF
chmod 0644 "$conf_tmp"
mv "$conf_tmp" "$CONF"

setup_bridge
setup_node_net n1 11
setup_node_net n2 12

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
if ! pgrep -f "^/usr/sbin/slurmd\$" >/dev/null; then
  log "starting slurmd (log: $LOG_DIR/slurmd.log)"
  setsid /usr/sbin/slurmd </dev/null >>"$LOG_DIR/slurmd.start" 2>&1 \
    || die "slurmd did not start: $(tail -n 5 "$LOG_DIR/slurmd.log" 2>/dev/null)"
fi

for node in "${MULTI_NODES[@]}"; do start_node_slurmd "$node"; done

for i in $(seq 1 60); do
  if all_up; then
    log "slurm is up: node $HOST (partition debug), nodes ${MULTI_NODES[*]} (partition multi)"
    exit 0
  fi
  for node in "$HOST" "${MULTI_NODES[@]}"; do
    case "$(node_state "$node")" in
      down* | drain* | drng*)
        # A node that was down before (earlier run, unclean stop) comes back on request.
        ((i % 5 == 0)) && scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true
        ;;
    esac
  done
  sleep 1
done
log "last lines of the slurmctld and slurmd logs:"
tail -n 15 "$LOG_DIR/slurmctld.log" "$LOG_DIR"/slurmd*.log >&2 || true
die "not every node is idle after 60 s: $(sinfo -h -N -o '%N %t' | tr '\n' ' ')"
