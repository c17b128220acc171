# shellcheck shell=bash
# The network-namespace lab of the shell scripts (demo.sh, bench-failover, the
# capture-keepalived-*vectors.sh scripts). Source it, then:
#
#   lab_init NAME                   namespaces of this run are named NAME<pid>-NODE ($LAB_P is
#                                   NAME<pid>-); cleans up on exit, also on failure or Ctrl-C
#   lab_node NODE                   a namespace NODE with lo up
#   lab_nodad NODE                  no IPv6 DAD in NODE for interfaces made from now on
#   lab_bridge NODE                 a namespace NODE holding bridge br0 (no multicast snooping)
#   lab_port BRIDGE NODE DEV ADDR   a veth from BRIDGE's br0 (port named NODE) to DEV in NODE,
#                                   with ADDR (a/len), up
#   lab_pair NODE1 DEV1 NODE2 DEV2  a veth pair straight between two nodes (down, no address)
#   lab_exec NODE CMD...            run CMD in NODE
#   lab_start NODE CMD...           run CMD in NODE in the background (redirect the call);
#                                   its pid in $LAB_PID, stopped at exit if still running
#   lab_stop [-SIG] PID...          SIG (TERM) to those of our PIDs still running, up to 5 s
#                                   for them to exit, then SIGKILL; reaps them
#   lab_has_addr NODE DEV ADDR/LEN  whether DEV in NODE has that IPv4 address
#   lab_poll SECONDS STEP CMD...    run CMD every STEP seconds until it succeeds (status 1 if
#                                   it did not within SECONDS)
#   lab_cleanup                     stop every process started here, delete every namespace
#                                   made here (the exit trap runs it; safe to run twice)
#
# Only the pids lab_start recorded are signalled, and only the namespaces made here are
# deleted. A script that removes more on exit sets its own EXIT trap calling lab_cleanup.

lab_init() {
    LAB_P="$1$$-"
    LAB_NS=()
    LAB_PIDS=()
    LAB_PID=""
    trap lab_cleanup EXIT
    trap 'exit 130' INT TERM
}

lab_node() {
    ip netns add "$LAB_P$1"
    LAB_NS+=("$LAB_P$1")
    ip -n "$LAB_P$1" link set dev lo up
}

lab_nodad() {
    ip netns exec "$LAB_P$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

lab_bridge() {
    lab_node "$1"
    ip -n "$LAB_P$1" link add name br0 type bridge mcast_snooping 0
    ip -n "$LAB_P$1" link set dev br0 up
}

lab_port() {
    local br="$LAB_P$1" node="$2" dev="$3" addr="$4" ns="$LAB_P$2"
    ip -n "$br" link add name "$node" type veth peer name "$dev" netns "$ns"
    ip -n "$br" link set dev "$node" master br0 up
    ip -n "$ns" addr add "$addr" dev "$dev"
    ip -n "$ns" link set dev "$dev" up
}

lab_pair() {
    ip link add "$2" netns "$LAB_P$1" type veth peer name "$4" netns "$LAB_P$3"
}

lab_exec() {
    local node="$1"
    shift
    ip netns exec "$LAB_P$node" "$@"
}

# `ip netns exec` execs the command, so the pid is the command's own.
lab_start() {
    local node="$1"
    shift
    ip netns exec "$LAB_P$node" "$@" &
    LAB_PID=$!
    LAB_PIDS+=("$LAB_PID")
}

# Whether PID is one of ours and still running (a zombie of ours has exited).
lab_running() {
    local p
    for p in "${LAB_PIDS[@]}"; do
        [ "$p" = "$1" ] || continue
        kill -0 "$1" 2>/dev/null || return 1
        [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
        return
    done
    return 1
}

lab_stop() {
    local sig=TERM pid i left keep=() p
    case "${1:-}" in -*) sig="${1#-}"; shift ;; esac
    for pid in "$@"; do
        if lab_running "$pid"; then kill "-$sig" "$pid" 2>/dev/null || true; fi
    done
    for ((i = 0; i < 50; i++)); do
        left=0
        for pid in "$@"; do
            if lab_running "$pid"; then left=1; fi
        done
        [ "$left" = 0 ] && break
        sleep 0.1
    done
    for pid in "$@"; do
        if lab_running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        wait "$pid" 2>/dev/null || true
    done
    for p in "${LAB_PIDS[@]}"; do
        [[ " $* " == *" $p "* ]] || keep+=("$p")
    done
    LAB_PIDS=("${keep[@]}")
}

# (Not `ip | grep -q`: under pipefail, grep quitting early can make ip die of SIGPIPE.)
lab_has_addr() {
    local out
    out="$(ip -n "$LAB_P$1" -o addr show dev "$2" 2>/dev/null)" || return 1
    [[ "$out" == *" inet $3 "* ]]
}

lab_poll() {
    local limit="$1" step="$2" end
    shift 2
    end=$(($(date +%s%N) + ${limit%.*} * 1000000000))
    while :; do
        "$@" && return 0
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep "$step"
    done
}

lab_cleanup() {
    local i
    if [ "${#LAB_PIDS[@]}" -gt 0 ]; then lab_stop "${LAB_PIDS[@]}"; fi
    for ((i = ${#LAB_NS[@]} - 1; i >= 0; i--)); do
        ip netns del "${LAB_NS[i]}" 2>/dev/null || true
    done
    LAB_NS=()
}
