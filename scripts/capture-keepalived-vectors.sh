#!/usr/bin/env bash
# Capture real keepalived VRRP advertisements for the wire/ test vectors.
#
# Builds two network namespaces joined by a veth pair, runs keepalived (VRRP only)
# in one of them with several instances (v2 without auth, v2 with PASS auth, v3 over
# IPv4, v3 over IPv6), captures with tcpdump in the other one, then stops
# keepalived with SIGTERM (so the priority-0 "shutdown" adverts are captured too)
# and prints each captured packet as one line: the IP packet (header + VRRP) in hex.
#
# Usage: sudo scripts/capture-keepalived-vectors.sh [OUTDIR]
# Needs: root, ip (iproute2), keepalived, tcpdump. Uses only documentation
# addresses (192.0.2.0/24, 2001:db8::/32) inside namespaces it creates and removes.
set -euo pipefail

OUT=${1:-$(mktemp -d /tmp/bwire-vectors.XXXXXX)}
mkdir -p "$OUT"
P="bwire$$"
NS_K="$P-k"   # runs keepalived
NS_C="$P-c"   # runs tcpdump
KA_PID=""
TD_PID=""

cleanup() {
    # Kill only the processes this script started, by pid.
    if [ -n "$KA_PID" ] && kill -0 "$KA_PID" 2>/dev/null; then kill "$KA_PID" 2>/dev/null || true; fi
    if [ -n "$TD_PID" ] && kill -0 "$TD_PID" 2>/dev/null; then kill "$TD_PID" 2>/dev/null || true; fi
    sleep 0.5
    if [ -n "$KA_PID" ] && kill -0 "$KA_PID" 2>/dev/null; then kill -9 "$KA_PID" 2>/dev/null || true; fi
    if [ -n "$TD_PID" ] && kill -0 "$TD_PID" 2>/dev/null; then kill -9 "$TD_PID" 2>/dev/null || true; fi
    ip netns del "$NS_K" 2>/dev/null || true
    ip netns del "$NS_C" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$NS_K"
ip netns add "$NS_C"
for ns in "$NS_K" "$NS_C"; do
    # No DAD, so the link-local address keepalived sends from is usable at once.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
done
ip link add "$P-a" netns "$NS_K" type veth peer name "$P-b" netns "$NS_C"
# Fixed MACs so the link-local addresses (EUI-64) are reproducible.
ip -n "$NS_K" link set "$P-a" address 02:00:5e:00:00:0a
ip -n "$NS_C" link set "$P-b" address 02:00:5e:00:00:0b
ip -n "$NS_K" addr add 192.0.2.1/24 dev "$P-a"
ip -n "$NS_K" addr add 2001:db8::1/64 dev "$P-a" nodad
ip -n "$NS_C" addr add 192.0.2.2/24 dev "$P-b"
ip -n "$NS_K" link set "$P-a" up
ip -n "$NS_C" link set "$P-b" up

cat >"$OUT/keepalived.conf" <<EOF
global_defs {
    router_id bwire
    vrrp_version 2
}
vrrp_instance V2_NOAUTH {
    state BACKUP
    interface $P-a
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        192.0.2.51/24
        192.0.2.52/24
    }
}
vrrp_instance V2_PASS {
    state BACKUP
    interface $P-a
    virtual_router_id 52
    priority 120
    advert_int 2
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        192.0.2.60/24
    }
}
vrrp_instance V3_V4 {
    version 3
    state BACKUP
    interface $P-a
    virtual_router_id 53
    priority 100
    advert_int 0.5
    virtual_ipaddress {
        192.0.2.70/24
    }
}
vrrp_instance V3_V6 {
    version 3
    state BACKUP
    interface $P-a
    virtual_router_id 54
    priority 200
    advert_int 1
    virtual_ipaddress {
        2001:db8::54/64
        2001:db8::55/64
    }
}
EOF

ip netns exec "$NS_C" tcpdump -i "$P-b" -U -w "$OUT/all.pcap" \
    'ip proto 112 or ip6 proto 112 or arp or (icmp6 and ip6[40] == 136)' 2>"$OUT/tcpdump.log" &
TD_PID=$!
sleep 1
ip netns exec "$NS_K" keepalived -n -l -D --vrrp -f "$OUT/keepalived.conf" \
    -p "/tmp/$P-keepalived.pid" -r "/tmp/$P-vrrp.pid" >"$OUT/keepalived.log" 2>&1 &
KA_PID=$!
# Backup -> master after Master_Down_Interval (about 3 adverts), then a few adverts.
sleep 10
kill -TERM "$KA_PID"
for _ in $(seq 1 50); do kill -0 "$KA_PID" 2>/dev/null || break; sleep 0.1; done
sleep 0.5
kill -TERM "$TD_PID" 2>/dev/null || true
for _ in $(seq 1 50); do kill -0 "$TD_PID" 2>/dev/null || break; sleep 0.1; done
rm -f "/tmp/$P-keepalived.pid" "/tmp/$P-vrrp.pid"

# One line per packet: tcpdump's summary, then the packet in hex.
# VRRP: the IP packet (no link header). ARP / neighbour advertisements: the whole frame.
dump() {
    tcpdump -r "$OUT/all.pcap" -nn -v "$1" "$2" 2>/dev/null | awk '
        /^[0-9]/ { if (hex != "") print hex; print; hex = ""; next }
        /^\t0x/ { for (i = 2; i <= NF; i++) hex = hex $i; next }
        { print }
        END { if (hex != "") print hex }
    '
}
dump -x 'ip proto 112 or ip6 proto 112' | tee "$OUT/vrrp-vectors.txt"
dump -xx 'arp or icmp6' | tee "$OUT/neigh-vectors.txt"
echo "pcap and vectors in $OUT" >&2
