#!/usr/bin/env bash
# Start a single-node SLURM cluster on this (Debian 12) machine for tests/test_slurm.py.
#
# Partitions: `cpu` (default) and `gpu-h100`, the partition names of profiles/slurm. The node
# has one fake GPU GRES (gres.conf File=/dev/null, type h100): SLURM schedules and accounts it
# like a real GPU, nothing can use it. No accounting (no slurmdbd): `sacct` does not work, so
# the profile must poll with `slurm-status-command: squeue`, and MinJobAge keeps finished jobs
# visible to `squeue --states=all` / `scontrol show job` for an hour.
#
# Run as root; idempotent (a second run with the same settings leaves the daemons alone).
# No systemd needed: the daemons are started directly. Settings: see
# ../shared/reference/snakemake-notes.md section 6.3.
set -euo pipefail

say() { echo "slurm-up: $*" >&2; }
die() {
  say "ERROR: $*"
  for f in "$LOGDIR"/slurmctld.log "$LOGDIR"/slurmd.log; do
    [[ -f $f ]] && { echo "--- last lines of $f" >&2; tail -n 25 "$f" >&2; }
  done
  exit 1
}

[[ $(id -u) -eq 0 ]] || { echo "slurm-up: ERROR: must run as root" >&2; exit 1; }

STATE=/var/lib/slurm-ci          # state, spool and pid files of this cluster
LOGDIR=/var/log/slurm-ci
CONF=/etc/slurm/slurm.conf       # the default location: the jobstep drops SLURM_CONF (notes §6.3)
GRES=/etc/slurm/gres.conf

# --- packages ---------------------------------------------------------------------------------
need=()
for pair in slurmctld:slurmctld slurmd:slurmd sinfo:slurm-client munged:munge; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if ((${#need[@]})); then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null \
    || die "apt-get install slurmctld slurmd slurm-client munge failed"
fi
for b in slurmctld slurmd sinfo squeue scontrol sbatch srun munged munge; do
  command -v "$b" >/dev/null 2>&1 || die "$b not found after installing the packages"
done

# --- configuration ----------------------------------------------------------------------------
HOST=$(hostname -s)
[[ -n $HOST ]] || die "hostname -s is empty"
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
# Headroom for the OS and the snakemake main process: 10 %, at least 512 MB.
HEADROOM=$((MEM_MB / 10 > 512 ? MEM_MB / 10 : 512))
REAL_MB=$((MEM_MB - HEADROOM))
((REAL_MB >= 1000)) || die "only ${MEM_MB} MB of memory: too little for the test cluster"

mkdir -p /etc/slurm "$STATE"/slurmctld "$STATE"/slurmd "$LOGDIR"

new_conf=$(cat <<EOF
# Written by .ci/slurm-up.sh: single-node test cluster (no accounting, fake GPU GRES).
ClusterName=local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MinJobAge=3600
ReturnToService=2
InactiveLimit=0
MpiDefault=none
MailProg=/bin/true
KillWait=5
SlurmdTimeout=120
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MB Gres=gpu:h100:1 State=UNKNOWN
PartitionName=cpu Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu-h100 Nodes=$HOST MaxTime=INFINITE State=UP
EOF
)
new_gres="NodeName=$HOST Name=gpu Type=h100 File=/dev/null"

changed=0
if [[ ! -f $CONF ]] || [[ $(cat "$CONF") != "$new_conf" ]]; then
  printf '%s\n' "$new_conf" >"$CONF"
  changed=1
fi
if [[ ! -f $GRES ]] || [[ $(cat "$GRES") != "$new_gres" ]]; then
  printf '%s\n' "$new_gres" >"$GRES"
  changed=1
fi

# --- daemons ----------------------------------------------------------------------------------
alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() {  # stop the daemon whose pid file is $1 (only the process this script started)
  if alive "$1"; then
    local pid
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$1"
}

# munge: the package made /etc/munge/munge.key; make one if it did not.
if [[ ! -s /etc/munge/munge.key ]]; then
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --force
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
fi
chown munge:munge /etc/munge/munge.key 2>/dev/null || true
chmod 0600 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
chmod 0755 /run/munge
MUNGE_PID=/run/munge/munged.pid
if ! alive "$MUNGE_PID" || ! munge -n </dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  stop "$MUNGE_PID"
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  munged --force || die "munged did not start"  # --force: munged refuses to run as root otherwise
fi
for _ in $(seq 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done
munge -n </dev/null | unmunge >/dev/null 2>&1 || die "munge does not work (munge -n | unmunge)"

if ((changed)); then
  say "configuration written to $CONF and $GRES (node $HOST, $CPUS CPUs, ${REAL_MB} MB, 1 fake h100)"
  stop "$STATE/slurmd.pid"
  stop "$STATE/slurmctld.pid"
fi
if ! alive "$STATE/slurmctld.pid"; then
  say "starting slurmctld"
  slurmctld || die "slurmctld did not start"
fi
for _ in $(seq 60); do scontrol ping >/dev/null 2>&1 && break; sleep 0.5; done
scontrol ping >/dev/null 2>&1 || die "slurmctld does not answer (scontrol ping)"
if ! alive "$STATE/slurmd.pid"; then
  say "starting slurmd"
  slurmd || die "slurmd did not start"
fi

# --- wait for the node ------------------------------------------------------------------------
state=""
for i in $(seq 120); do
  state=$(sinfo -h -N -n "$HOST" -o %T 2>/dev/null | head -n1 || true)
  case $state in
    idle | mixed | allocated) break ;;
    *drain* | down* | inval* | fail*)
      if ((i % 5 == 1)); then
        say "node $HOST is $state: resuming it"
        scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
      fi
      ;;
  esac
  sleep 0.5
done
case $state in
  idle | mixed | allocated) ;;
  *)
    scontrol show node "$HOST" >&2 || true
    die "node $HOST is not usable after 60 s (state: '${state:-no answer}')"
    ;;
esac
for p in cpu gpu-h100; do
  [[ $(sinfo -h -p "$p" -o %a 2>/dev/null) == up ]] || die "partition $p is not up"
done
scontrol show node "$HOST" | grep -q 'Gres=gpu:h100:1' || die "node $HOST has no gpu:h100 GRES"
say "cluster up: $(sinfo -h -o '%P %a %D %T' | tr '\n' ';')"
