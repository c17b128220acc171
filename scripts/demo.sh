#!/usr/bin/env bash
# baton in one minute: two servers and a client in network namespaces.
#
#   server a (192.0.2.1, priority 150) ──┐
#   server b (192.0.2.2, priority 100) ──┼── bridge ── client c (192.0.2.3)
#   virtual IP 192.0.2.100 ──────────────┘
#
# Builds baton, starts it on both servers, shows `baton status` on each, takes the master's
# link down while the client pings the VIP every 10 ms, shows the outage the client saw
# and the new master, brings the link back (the VIP stays put: `fallback manual`), runs
# `baton fallback` on server a (refused until its fallback_check passes, then done), stops,
# removes everything. About a minute after the build.
# Run as root. Safe to interrupt: everything it made is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "demo.sh needs root (it creates network namespaces): sudo $0" >&2
    exit 1
fi
# Under sudo, build as the user who ran it: with their Rust toolchain (rustup installs it in
# their home, off root's PATH), and leaving target/ theirs.
as_builder() {
    if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
        local home
        home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
        sudo -u "$SUDO_USER" env "PATH=$home/.cargo/bin:$PATH" "HOME=$home" "$@"
    else
        "$@"
    fi
}
for tool in ip ping; do
    command -v "$tool" >/dev/null || { echo "demo.sh needs '$tool' (apt-get install iproute2 iputils-ping)" >&2; exit 1; }
done
as_builder sh -c 'command -v cargo' >/dev/null ||
    { echo "demo.sh needs Rust's cargo (https://rustup.rs)" >&2; exit 1; }

# shellcheck source=scripts/lib/lab.sh
. scripts/lib/lab.sh
lab_init bdemo
WORK=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$WORK"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
holds_vip() { lab_has_addr "$1" veth0 192.0.2.100/24; }
who_holds() {
    local holders=()
    for n in a b; do holds_vip "$n" && holders+=("$n"); done
    echo "${holders[*]:-nobody}"
}
held_by() { [ "$(who_holds)" = "$1" ]; }
wait_for_holder() {
    lab_poll 15 0.1 held_by "$1" && return 0
    echo "timed out waiting for $1 to hold the VIP" >&2
    return 1
}

step "Building baton (release)"
as_builder cargo build --release --quiet
BATON=$PWD/target/release/baton

step "Creating the lab: servers a and b, client c, one bridge"
lab_bridge br
addr_of() { case $1 in a) echo 192.0.2.1;; b) echo 192.0.2.2;; c) echo 192.0.2.3;; esac; }
for n in a b c; do
    lab_node "$n"
    lab_port br "$n" veth0 "$(addr_of "$n")/24"
done

for n in a b; do
    priority=$([ "$n" = a ] && echo 150 || echo 100)
    cat >"$WORK/$n.conf" <<EOF
# VRRPv3 with 100 ms adverts: the backup takes over about 0.36 s after the last advert.
vrrp_instance PORTAL {
    state BACKUP
    interface veth0
    virtual_router_id 51
    version 3
    priority $priority
    advert_int 0.1
    virtual_ipaddress {
        192.0.2.100/24
    }
    # A recovered server a does not take the VIP back by itself: the operator runs
    # \`baton fallback\` once this check passes (think: "my database has caught up").
    fallback manual
    fallback_check "/usr/bin/test -e $WORK/$n.caught-up"
}
EOF
done
echo "config of server a:"; sed 's/^/    /' "$WORK/a.conf"

step "Starting baton on a (priority 150) and b (priority 100)"
DAEMONS=()
for n in a b; do
    lab_start "$n" "$BATON" run -f "$WORK/$n.conf" -i "$n" \
        --socket "$WORK/$n.sock" --state-dir "$WORK/$n-state" 2>"$WORK/$n.log"
    DAEMONS+=("$LAB_PID")
done
wait_for_holder a
echo "the VIP 192.0.2.100 is on server: $(who_holds)"
lab_exec c ping -c 1 -W 1 192.0.2.100 >/dev/null && echo "the client reaches it"
for n in a b; do
    echo "baton status on $n:"
    "$BATON" status --socket "$WORK/$n.sock" | sed 's/^/    /' || true
done

step "Client pings the VIP every 10 ms; taking server a's link down"
lab_start c ping -i 0.01 -W 0.1 -D 192.0.2.100 >"$WORK/ping.log" 2>&1
PING=$LAB_PID
sleep 1
lab_exec a ip link set dev veth0 down
wait_for_holder b
sleep 1
lab_stop -INT "$PING"
echo "the VIP is now on server: $(who_holds)"
awk -F'[][]' '/bytes from/ { t = $2 * 1000; if (last && t - last > gap) gap = t - last; last = t }
     END { printf "outage seen by the client: %.0f ms (longest gap between replies)\n", gap }' "$WORK/ping.log"
grep -E 'packets transmitted' "$WORK/ping.log" | sed 's/^/    ping: /' || true
echo "server b's log:"; grep -- '->' "$WORK/b.log" | sed 's/^/    /'
echo "baton status on a (its link is down):"
"$BATON" status --socket "$WORK/a.sock" | sed 's/^/    /' || true

step "Server a's link comes back; with 'fallback manual' the VIP stays on b"
lab_exec a ip link set dev veth0 up
sleep 2
echo "the VIP is on server: $(who_holds)"
echo "baton status on a:"
"$BATON" status --socket "$WORK/a.sock" | sed 's/^/    /' || true

step "baton fallback on a, before its fallback_check passes: refused"
"$BATON" fallback --socket "$WORK/a.sock" 2>&1 | sed 's/^/    /' || true
echo "the VIP is still on server: $(who_holds)"

step "a has caught up (its fallback_check passes now): baton fallback on a"
touch "$WORK/a.caught-up"
"$BATON" fallback --socket "$WORK/a.sock" 2>&1 | sed 's/^/    /' || true
wait_for_holder a
echo "the VIP is on server: $(who_holds)"
lab_exec c ping -c 1 -W 1 192.0.2.100 >/dev/null && echo "the client reaches it"
echo "server a's log:"; grep -- '->' "$WORK/a.log" | sed 's/^/    /'
echo "server b's last transition:"; grep -- '->' "$WORK/b.log" | tail -n 1 | sed 's/^/    /'

step "Stopping both daemons (SIGTERM: priority-0 advert, VIP removed)"
lab_stop "${DAEMONS[@]}"
echo "the VIP is on: $(who_holds)"

step "Removing the lab"
lab_cleanup
rm -rf "$WORK"
left=$(ip netns list | grep -c "^$LAB_P" || true)
echo "namespaces left: $left; the demo is done"
