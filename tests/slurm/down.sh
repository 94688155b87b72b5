#!/usr/bin/env bash
# Stop the single-node SLURM started by tests/slurm/up.sh (slurmd, slurmctld, munged).
# The packages and /etc/slurm stay; `bash tests/slurm/up.sh` starts it again.
set -u
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	exec sudo -n bash "$0" "$@"
fi
stop() { # pidfile name
	[ -f "$1" ] || return 0
	local pid
	pid=$(cat "$1")
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		echo "down.sh: stopped $2 ($pid)" >&2
	fi
	rm -f "$1"
}
stop /run/slurmd.pid slurmd
stop /run/slurmctld.pid slurmctld
stop /run/munge/munged.pid munged
