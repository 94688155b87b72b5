#!/usr/bin/env bash
# Bring up a single-node SLURM cluster (munged + slurmctld + slurmd) on localhost, for
# the tests (tests/test_slurm.py, tests/test_resume.py) and for trying the SLURM profile
# on one machine. Idempotent: when the cluster is already up with this configuration it
# only checks it and returns in well under a second.
#
#   sudo bash tests/slurm/up.sh     # install (apt) if needed, configure, start, wait
#   bash tests/slurm/down.sh        # stop the daemons again
#
# What it sets up:
#   - Debian's packages slurmctld, slurmd, slurm-client and munge (apt-get, if missing);
#   - /etc/slurm/slurm.conf for this host: NodeName=$(hostname -s), CPUs from nproc,
#     RealMemory from /proc/meminfo, one partition "main" (Default=YES);
#   - no accounting daemon: job status comes from squeue, which keeps finished jobs for
#     MinJobAge=3600 s (what snakemake-executor-plugin-slurm needs for
#     --slurm-status-command squeue); finished jobs are also written to
#     /var/log/slurm/jobcomp.log (jobcomp/filetxt) as a record;
#   - one fake "gpu" GRES on the node (no device file), so that jobs of rules declaring
#     resources gpu=1 (sbatch --gpus=1) are schedulable; they run on the CPU.
# The daemons run as plain background processes (no systemd needed).
#
# Exit status: 0 cluster up; 3 SLURM cannot be installed or started here (not root and no
# sudo, no apt-get, packages unavailable): callers may skip; 1: installed but a daemon
# failed to start or answer (a real error, see /var/log/slurm/*.log).

set -euo pipefail

PARTITION=${MICROPROP_TEST_PARTITION:-main}
CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
cannot() {
	echo "tests/slurm/up.sh: SLURM cannot be set up on this machine: $*" >&2
	exit 3
}
fail() {
	echo "tests/slurm/up.sh: $*" >&2
	exit 1
}

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		exec sudo -n -E bash "$0" "$@"
	fi
	cannot "needs root (or password-less sudo) to install and start the daemons"
fi

# --- packages -----------------------------------------------------------------------
PKGS=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null 2>&1 || cannot "apt-get not found (install ${missing[*]} yourself)"
	echo "up.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	# Try without an update first (fast when the lists are fresh), then with one.
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/microprop-slurm-apt.log 2>&1; then
		apt-get update -q >>/tmp/microprop-slurm-apt.log 2>&1 || true
		apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/microprop-slurm-apt.log 2>&1 ||
			cannot "apt-get install ${missing[*]} failed (see /tmp/microprop-slurm-apt.log)"
	fi
fi

# --- configuration --------------------------------------------------------------------
NODE=$(hostname -s 2>/dev/null || hostname)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
REAL_MB=$((MEM_MB * 9 / 10)) # leave room for the OS and the daemons

mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
new_conf=$(
	cat <<EOF
# Written by microprop tests/slurm/up.sh: a single-node cluster on localhost.
ClusterName=microprop
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${LOG_DIR}/jobcomp.log
# Finished jobs stay visible to squeue for an hour (job status without slurmdbd).
MinJobAge=3600
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SlurmdParameters=config_overrides
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=${LOG_DIR}/slurmctld.log
SlurmdLogFile=${LOG_DIR}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
GresTypes=gpu
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${REAL_MB} Gres=gpu:1 State=UNKNOWN
PartitionName=${PARTITION} Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
EOF
)
new_gres="NodeName=${NODE} Name=gpu File=/dev/null"

changed=0
if [ "$(cat "$CONF_DIR/slurm.conf" 2>/dev/null)" != "$new_conf" ]; then
	printf '%s\n' "$new_conf" >"$CONF_DIR/slurm.conf"
	changed=1
fi
if [ "$(cat "$CONF_DIR/gres.conf" 2>/dev/null)" != "$new_gres" ]; then
	printf '%s\n' "$new_gres" >"$CONF_DIR/gres.conf"
	changed=1
fi

# A pid file names a live daemon only if that process is the daemon: a pid file left by a
# daemon that died with the machine can name a process (or thread) that reused its number.
running() {
	local pid
	[ -f "$1" ] && pid=$(cat "$1") && kill -0 "$pid" 2>/dev/null &&
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(basename "$1" .pid)" ]
}

if [ "$changed" -eq 1 ]; then
	# A new configuration: restart the SLURM daemons that run with an old one.
	for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
		if running "$pidfile"; then
			pid=$(cat "$pidfile")
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
	done
fi

# --- munge ------------------------------------------------------------------------------
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
	mkdir -p /run/munge /var/log/munge /var/lib/munge
	chown munge:munge /run/munge /var/log/munge /var/lib/munge
	chmod 0755 /run/munge
	if [ ! -s /etc/munge/munge.key ]; then
		if command -v mungekey >/dev/null 2>&1; then
			mungekey --create --keyfile=/etc/munge/munge.key
		else
			dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
		fi
	fi
	chown munge:munge /etc/munge/munge.key
	chmod 0400 /etc/munge/munge.key
	runuser -u munge -- /usr/sbin/munged || fail "munged did not start"
	for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
	munge -n | unmunge >/dev/null || fail "munge does not answer"
fi

# --- slurmctld, slurmd ------------------------------------------------------------------
if ! running /run/slurmctld.pid; then
	rm -f /run/slurmctld.pid
	/usr/sbin/slurmctld -f "$CONF_DIR/slurm.conf" || fail "slurmctld did not start (see $LOG_DIR/slurmctld.log)"
fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
scontrol ping | grep -q UP || fail "slurmctld does not answer (see $LOG_DIR/slurmctld.log)"

if ! running /run/slurmd.pid; then
	rm -f /run/slurmd.pid
	/usr/sbin/slurmd -f "$CONF_DIR/slurm.conf" || fail "slurmd did not start (see $LOG_DIR/slurmd.log)"
fi

# --- wait for the node ------------------------------------------------------------------
state=""
for _ in $(seq 150); do
	state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1)
	case "$state" in
	*'*') ;; # "idle*": not responding yet
	idle* | mixed* | allocated* | completing*) break ;;
	down* | drain* | inval*) scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
	esac
	sleep 0.2
done
case "$state" in
*'*') fail "node $NODE is not responding (see $LOG_DIR/slurmd.log)" ;;
idle* | mixed* | allocated* | completing*) ;;
*) fail "node $NODE is '$state' (see $LOG_DIR/slurmd.log)" ;;
esac
echo "up.sh: SLURM up: node $NODE ($CPUS CPUs, ${REAL_MB} MB), partition $PARTITION" >&2
