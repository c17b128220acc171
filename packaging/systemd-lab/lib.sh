# shellcheck shell=bash
# The systemd lab: Debian bookworm containers booted with systemd as PID 1 (systemd-nspawn),
# each in a network namespace of its own with an eth0 into one lab bridge, plus a client
# namespace on the same bridge -- the namespace lab of tests/lab/, with a real systemd
# inside. Sourced by packaging/systemd-lab/run; needs root, debootstrap, systemd-container
# (systemd-nspawn), iproute2 and network access to deb.debian.org for the first (cached) root.
#
# Names start with sdl<pid of the run> so that runs never collide, and everything a run
# creates (containers, overlay mounts, namespaces, the scratch directory) is removed by
# sdl_cleanup, which the caller runs from an EXIT trap.

# The packages of the cached root. Changing the list (or the suite, the mirror or
# SDL_ROOT_RECIPE) builds a new root: the cache is keyed by a hash of all of them.
SDL_SUITE=bookworm
SDL_MIRROR=${SDL_MIRROR:-http://deb.debian.org/debian}
SDL_PACKAGES=(
    systemd systemd-sysv dbus iproute2 iputils-ping procps ca-certificates
    # what the .deb depends on (passwd is in minbase), so `apt install ./baton_*.deb` needs
    # no network
    passwd
    # Debian's PostgreSQL 15 (cluster 15/main) for the hooks
    postgresql-15
    # baton-pg setup reaches the other server over SSH (root's keys)
    openssh-server openssh-client
)
# Bump when the preparation below changes.
SDL_ROOT_RECIPE=3

SDL_PREFIX="sdl$$"
SDL_CACHE_DIR=${SDL_CACHE_DIR:-$PWD/target/systemd-lab/cache}
SDL_SCRATCH=""
SDL_CONTAINERS=()  # names of the containers started by this run
declare -A SDL_NSPAWN_PID=() SDL_INIT_PID=() SDL_MERGED=() SDL_NS=()
SDL_MOUNTS=()      # overlay mount points, unmounted in reverse order
SDL_NETNS=()       # namespaces created by this run
SDL_BG_PIDS=()     # other background processes of this run

sdl_log() {
    printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# sdl_root: prints the path of the cached root directory, building it first when the
# cache has none for the current key. The root is built under a temporary name and renamed
# when complete, so an interrupted build leaves no half root behind; roots of other keys
# are removed.
sdl_root() {
    local key root tmp
    key=$(printf '%s\n' "$SDL_SUITE" "$SDL_MIRROR" "$SDL_ROOT_RECIPE" "${SDL_PACKAGES[@]}" |
        sha256sum | cut -c1-16)
    root="$SDL_CACHE_DIR/root-$key"
    if [ -f "$root/.sdl-complete" ]; then
        echo "$root"
        return 0
    fi
    mkdir -p "$SDL_CACHE_DIR"
    find "$SDL_CACHE_DIR" -mindepth 1 -maxdepth 1 -name 'root-*' ! -name "root-$key" \
        -exec rm -rf {} +
    tmp="$root.tmp$$"
    rm -rf "$tmp"
    local include
    include=$(IFS=,; echo "${SDL_PACKAGES[*]}")
    sdl_log "debootstrap $SDL_SUITE into $tmp (cache key $key; a few minutes, once)"
    if ! timeout 1800 debootstrap --variant=minbase --include="$include" "$SDL_SUITE" "$tmp" "$SDL_MIRROR" \
        >"$SDL_CACHE_DIR/debootstrap.log" 2>&1; then
        sdl_log "debootstrap failed; the end of $SDL_CACHE_DIR/debootstrap.log:"
        tail -n 20 "$SDL_CACHE_DIR/debootstrap.log" >&2
        rm -rf "$tmp"
        return 1
    fi
    sdl_prepare_root "$tmp"
    touch "$tmp/.sdl-complete"
    mv "$tmp" "$root"
    echo "$root"
}

# What every container shares: no PostgreSQL started at boot (the hooks or the tests start
# it), no getty, an empty machine-id (each boot makes its own), apt offline.
sdl_prepare_root() {
    local root=$1
    chroot "$root" systemctl disable postgresql.service >/dev/null 2>&1 || true
    chroot "$root" systemctl mask console-getty.service getty@tty1.service \
        systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
    : >"$root/etc/machine-id"
    rm -f "$root/var/lib/dbus/machine-id"
    # `apt install ./baton_*.deb` must not try the network: no sources.
    : >"$root/etc/apt/sources.list"
    rm -rf "$root"/var/cache/apt/archives/*.deb
    echo "sdl" >"$root/etc/hostname"
}

sdl_scratch() {
    SDL_SCRATCH=$(mktemp -d /tmp/baton-systemd-lab.XXXXXX)
}

# sdl_netns NAME: a network namespace of this run, with lo up.
sdl_netns() {
    ip netns add "$1"
    SDL_NETNS+=("$1")
    ip -n "$1" link set lo up
}

# sdl_bridge: the lab bridge br0 in namespace $SDL_PREFIX-br.
sdl_bridge() {
    sdl_netns "$SDL_PREFIX-br"
    ip -n "$SDL_PREFIX-br" link add br0 type bridge
    # No STP or forwarding delay: a port forwards at once.
    ip -n "$SDL_PREFIX-br" link set br0 type bridge stp_state 0 forward_delay 0
    ip -n "$SDL_PREFIX-br" link set br0 up
}

# sdl_attach NS IFNAME ADDRESS...: a veth from namespace NS (named IFNAME there) into the
# bridge, with the given addresses.
sdl_attach() {
    local ns=$1 ifname=$2 br="$SDL_PREFIX-br" port
    shift 2
    port="p${#SDL_NETNS[@]}-$RANDOM"
    port=${port:0:15}
    ip link add "$port" netns "$br" type veth peer name "$ifname" netns "$ns"
    ip -n "$br" link set "$port" master br0 up
    local a
    for a in "$@"; do ip -n "$ns" addr add "$a" dev "$ifname"; done
    ip -n "$ns" link set "$ifname" up
}

# sdl_boot NAME ROOT [NETNS]: a container named NAME from an overlay over ROOT (changes go
# to the scratch directory), in network namespace NETNS (default NAME), booted with systemd
# as PID 1. Returns once the container's systemd has finished starting up
# (is-system-running: running or degraded).
sdl_boot() {
    local name=$1 lower=$2 dir="$SDL_SCRATCH/$1"
    SDL_NS[$name]=${3:-$name}
    mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
    mount -t overlay overlay -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged"
    SDL_MOUNTS+=("$dir/merged")
    SDL_MERGED[$name]=$dir/merged
    echo "$name" >"$dir/merged/etc/hostname"
    sdl_start "$name"
}

# sdl_start NAME: boots the (prepared) container NAME.
sdl_start() {
    local name=$1 merged=${SDL_MERGED[$1]}
    # unshare -m: nspawn's mount changes stay out of the host's namespace. The host's cgroup
    # v1 has no systemd hierarchy to delegate, so the container gets the unified one.
    # --network-namespace-path already grants CAP_NET_ADMIN; CAP_IPC_LOCK (mlockall,
    # vrrp_no_swap) is not in nspawn's default set. The open files limit of a booted
    # machine (hard 524288): the container's PID 1 inherits it from here and has no
    # CAP_SYS_RESOURCE to raise it, so systemd would silently lower LimitNOFILE= to it.
    (
        # (Where this shell has no CAP_SYS_RESOURCE either, its own limit stays.)
        ulimit -Hn 524288 2>/dev/null || true
        ulimit -Sn 1024 2>/dev/null || true
        SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec unshare -m systemd-nspawn -q -D "$merged" -M "$name" \
            --boot --register=no --keep-unit --network-namespace-path="/run/netns/${SDL_NS[$name]:-$name}" \
            --capability=CAP_IPC_LOCK,CAP_SYS_NICE,CAP_NET_ADMIN
    ) </dev/null >"$SDL_SCRATCH/$name.console" 2>&1 &
    SDL_NSPAWN_PID[$name]=$!
    SDL_CONTAINERS+=("$name")
    # The container's init: the child of nspawn whose PID in its own namespace is 1, once it
    # runs systemd and systemd has opened its private bus.
    local i pid init=""
    for ((i = 0; i < 300; i++)); do
        for pid in $(pgrep -P "${SDL_NSPAWN_PID[$name]}" 2>/dev/null); do
            if awk '/^NSpid:/ { exit !($NF == 1) }' "/proc/$pid/status" 2>/dev/null &&
                [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ] &&
                [ -S "/proc/$pid/root/run/systemd/private" ]; then
                init=$pid
            fi
        done
        [ -n "$init" ] && break
        if ! kill -0 "${SDL_NSPAWN_PID[$name]}" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if [ -z "$init" ]; then
        sdl_log "container $name did not start; its console:"
        cat "$SDL_SCRATCH/$name.console" >&2
        return 1
    fi
    SDL_INIT_PID[$name]=$init
    local state
    state=$(sdl_in "$name" timeout 120 systemctl is-system-running --wait 2>/dev/null) || true
    case "$state" in
    running | degraded) sdl_log "container $name booted ($state, init pid $init)" ;;
    *)
        sdl_log "container $name did not finish booting: '$state'"
        sdl_in "$name" systemctl --failed --no-pager >&2 || true
        return 1
        ;;
    esac
}

# sdl_in NAME COMMAND...: runs COMMAND in every namespace of container NAME.
sdl_in() {
    local name=$1
    shift
    nsenter -t "${SDL_INIT_PID[$name]}" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# sdl_stop NAME: powers the container off (bounded), then kills its nspawn if still there.
sdl_stop() {
    local name=$1 pid=${SDL_NSPAWN_PID[$1]:-} i
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        # SIGRTMIN+4 to the container's init: systemd powers off.
        kill -s RTMIN+4 "${SDL_INIT_PID[$name]}" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -s KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "SDL_NSPAWN_PID[$name]"
}

sdl_cleanup() {
    local name pid m i
    set +e
    for pid in "${SDL_BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for name in "${SDL_CONTAINERS[@]}"; do
        [ -n "${SDL_NSPAWN_PID[$name]:-}" ] && sdl_stop "$name"
    done
    for ((i = ${#SDL_MOUNTS[@]} - 1; i >= 0; i--)); do
        m=${SDL_MOUNTS[$i]}
        if mountpoint -q "$m"; then umount "$m" || umount -l "$m"; fi
    done
    for name in "${SDL_NETNS[@]}"; do ip netns del "$name" 2>/dev/null; done
    # nspawn leaves its (empty) propagation directory when /run is not a tmpfs.
    for name in "${SDL_CONTAINERS[@]}"; do rmdir "/run/systemd/nspawn/propagate/$name" 2>/dev/null; done
    if [ -n "$SDL_SCRATCH" ] && [ -d "$SDL_SCRATCH" ]; then
        # Nothing may still be mounted under it: rm would cross into the container's root.
        if ! grep -q " $SDL_SCRATCH/" /proc/mounts; then rm -rf "$SDL_SCRATCH"; fi
    fi
}
