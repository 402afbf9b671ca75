#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for the cluster test (tests/test_cluster.py).
#
#   tests/cluster/slurm.sh install   apt-get install Debian's munge, slurmctld, slurmd, slurm-client (root)
#   tests/cluster/slurm.sh start     write a localhost slurm.conf, start munged, slurmctld and slurmd
#                                    without systemd, wait until the node is idle
#   tests/cluster/slurm.sh stop      stop the daemons this script started (by the PIDs it recorded)
#   tests/cluster/slurm.sh status    sinfo of the test cluster
#   tests/cluster/slurm.sh env       print `export SLURM_CONF=...` for the client commands (sbatch, squeue)
#
# Everything lives in $METAPOOL_SLURM_DIR (default /tmp/metapool-slurm): slurm.conf, its own munge key and
# socket, the daemons' state, spool and logs, and the job completion records (jobcomp.log), which the test
# reads as SLURM's record of the jobs it ran. `start` and `stop` change nothing under /etc and start or
# stop no system service (Debian's package scripts run by `install` may start munge's own service, as on
# any install; it is left alone). Clients reach the cluster through
# SLURM_CONF=$METAPOOL_SLURM_DIR/conf/slurm.conf (`env` prints it). Inside a
# job, Snakemake's jobstep executor drops SLURM_CONF before its nested srun; SLURM's commands then look for
# /etc/slurm/slurm.conf and, failing that, /run/slurm/conf/slurm.conf (where a "configless" slurmd keeps its
# copy): `start` links /run/slurm/conf to $METAPOOL_SLURM_DIR/conf and `stop` removes the link. A machine
# that already has /etc/slurm/slurm.conf (a SLURM of its own) is refused: jobs would talk to that cluster.
# Needs root (slurmd launches jobs as their user). Tested with Debian 12's SLURM 22.05.8.
set -euo pipefail

STATE=${METAPOOL_SLURM_DIR:-/tmp/metapool-slurm}
PARTITION=${METAPOOL_SLURM_PARTITION:-main}   # the partition profiles/slurm asks for
CTLD_PORT=${METAPOOL_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${METAPOOL_SLURM_SLURMD_PORT:-6818}
CONF=$STATE/conf/slurm.conf
PACKAGES=(munge slurmctld slurmd slurm-client)
DAEMONS=(munged slurmctld slurmd)   # start order; stopped in reverse

log() { printf 'slurm.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

need_root() { [[ $(id -u) -eq 0 ]] || die "$1 needs root (run as root or with sudo)"; }

have_slurm() {
    local cmd
    for cmd in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol; do
        command -v "$cmd" >/dev/null 2>&1 || return 1
    done
}

cmd_install() {
    if have_slurm; then
        log "munge and SLURM already installed ($(slurmctld -V))"
        return
    fi
    need_root "install"
    command -v apt-get >/dev/null || die "apt-get not found: install munge and SLURM (slurmctld, slurmd, client) by hand"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${PACKAGES[@]}"; then
        apt-get update
        apt-get install -y --no-install-recommends "${PACKAGES[@]}"
    fi
    have_slurm || die "installed ${PACKAGES[*]} but a command is still missing"
}

# PID recorded by `start` for one daemon, if that process is still that daemon.
live_pid() {
    local name=$1 file=$STATE/pids/$1 pid
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ -n $pid && -r /proc/$pid/comm ]] || return 1
    [[ $(</proc/"$pid"/comm) == "$name" ]] || return 1
    printf '%s\n' "$pid"
}

write_conf() {
    # CPUs, boards, sockets, cores, threads and RealMemory as slurmd itself detects them.
    local hw
    hw=$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* //')
    [[ $hw == *CPUs=* && $hw == *RealMemory=* ]] || die "unexpected slurmd -C output: $hw"
    cat >"$CONF" <<EOF
# Single-node test cluster written by tests/cluster/slurm.sh; see that script.
ClusterName=metapool-test
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge.socket
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# no cgroups: processes tracked through /proc, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MpiDefault=none
ReturnToService=2
# No accounting database (sacct would not answer): the executor polls squeue, which needs finished
# jobs to stay visible for a while (the plugin wants MinJobAge >= 3 x its first polling interval).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=300
# One line per finished job: SLURM's own record of what ran, read by the cluster test.
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.log
InactiveLimit=0
KillWait=5
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=localhost NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

start_daemon() {
    local name=$1
    shift
    # setsid: the daemon leaves the caller's process group and terminal; it is stopped by its PID only.
    setsid "$@" >>"$STATE/log/$name.out" 2>&1 </dev/null &
    echo $! >"$STATE/pids/$name"
}

wait_for() {
    local what=$1 seconds=$2
    shift 2
    local i
    for ((i = 0; i < seconds * 2; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    log "timed out after ${seconds}s waiting for $what; logs in $STATE/log:"
    tail -n 20 "$STATE"/log/* >&2 || true
    return 1
}

# /run/slurm/conf is the link `start` made.
ours_run_conf() { [[ -L /run/slurm/conf && $(readlink /run/slurm/conf) == "$STATE"/* ]]; }

node_idle() { [[ $(SLURM_CONF=$CONF sinfo -h -N -n localhost -o %T 2>/dev/null) == idle ]]; }

cmd_start() {
    need_root "start"
    have_slurm || die "munge and SLURM are not installed: run '$0 install' first (as root)"
    local name
    for name in "${DAEMONS[@]}"; do
        if live_pid "$name" >/dev/null; then
            die "$name already running from $STATE (pid $(live_pid "$name")); run '$0 stop' first"
        fi
    done
    [[ ! -e /etc/slurm/slurm.conf ]] ||
        die "/etc/slurm/slurm.conf exists: this machine has a SLURM of its own; jobs' srun would use it"
    if [[ -e /run/slurm/conf || -L /run/slurm/conf ]] && ! ours_run_conf; then
        die "/run/slurm/conf exists and is not from $STATE: another configless slurmd runs here"
    fi
    if [[ -e $STATE ]]; then
        # only a folder this script made before (or an empty one) is wiped
        [[ -f $STATE/conf/slurm.conf || -z $(ls -A "$STATE") ]] ||
            die "$STATE exists and is not a test cluster folder; set METAPOOL_SLURM_DIR elsewhere"
        rm -rf "$STATE"
    fi
    rm -f /run/slurm/conf
    mkdir -p "$STATE"/{conf,ctld,spool,log,run,pids,munge}
    chmod 0755 "$STATE" "$STATE/conf"   # the munge socket and slurm.conf must be reachable by job users
    chmod 0700 "$STATE/munge"
    mungekey --create --keyfile="$STATE/munge/munge.key" --force
    write_conf
    chmod 0644 "$CONF"
    mkdir -p /run/slurm
    ln -s "$STATE/conf" /run/slurm/conf

    start_daemon munged munged --foreground --force --socket="$STATE/munge.socket" \
        --key-file="$STATE/munge/munge.key" --pid-file="$STATE/run/munged.pid" \
        --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/munged.seed"
    wait_for "munged" 20 test -S "$STATE/munge.socket"

    start_daemon slurmctld slurmctld -D -c -f "$CONF"
    wait_for "slurmctld" 60 env SLURM_CONF="$CONF" scontrol ping
    start_daemon slurmd slurmd -D -N localhost -f "$CONF"
    if ! wait_for "node localhost to be idle" 60 node_idle; then
        SLURM_CONF=$CONF sinfo -N -l >&2 || true
        cmd_stop
        exit 1
    fi
    log "cluster up: $(SLURM_CONF=$CONF sinfo -h -o '%P %D %c cpus %m MB %T'); export SLURM_CONF=$CONF"
}

cmd_stop() {
    local i name pid
    if pid=$(live_pid slurmctld); then
        # jobs left over from an interrupted test: this cluster's only
        SLURM_CONF=$CONF scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    fi
    for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
        name=${DAEMONS[i]}
        if ! pid=$(live_pid "$name"); then
            rm -f "$STATE/pids/$name"
            continue
        fi
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do
            [[ -d /proc/$pid ]] || break
            sleep 0.5
        done
        if [[ -d /proc/$pid ]]; then
            log "$name (pid $pid) did not stop in 20 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$STATE/pids/$name"
        log "stopped $name (pid $pid)"
    done
    if ours_run_conf; then
        rm -f /run/slurm/conf
        rmdir /run/slurm 2>/dev/null || true
    fi
}

cmd_status() {
    local name pid
    for name in "${DAEMONS[@]}"; do
        if pid=$(live_pid "$name"); then echo "$name: running (pid $pid)"; else echo "$name: not running"; fi
    done
    if live_pid slurmctld >/dev/null; then SLURM_CONF=$CONF sinfo -N -l || true; fi
}

case ${1:-} in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) die "usage: $0 install|start|stop|status|env" ;;
esac
