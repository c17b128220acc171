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
# shellcheck source=scripts/lib/lab.sh
. "$(dirname "$0")/lib/lab.sh"
lab_init bwire   # namespaces bwire<pid>-k (keepalived) and bwire<pid>-c (tcpdump)
P=$LAB_P

for node in k c; do
    lab_node "$node"
    # No DAD, so the link-local address keepalived sends from is usable at once.
    lab_nodad "$node"
done
lab_pair k "${P}a" c "${P}b"
# Fixed MACs so the link-local addresses (EUI-64) are reproducible.
ip -n "${P}k" link set "${P}a" address 02:00:5e:00:00:0a
ip -n "${P}c" link set "${P}b" address 02:00:5e:00:00:0b
ip -n "${P}k" addr add 192.0.2.1/24 dev "${P}a"
ip -n "${P}k" addr add 2001:db8::1/64 dev "${P}a" nodad
ip -n "${P}c" addr add 192.0.2.2/24 dev "${P}b"
ip -n "${P}k" link set "${P}a" up
ip -n "${P}c" link set "${P}b" up

cat >"$OUT/keepalived.conf" <<EOF
global_defs {
    router_id bwire
    vrrp_version 2
}
vrrp_instance V2_NOAUTH {
    state BACKUP
    interface ${P}a
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
    interface ${P}a
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
    interface ${P}a
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
    interface ${P}a
    virtual_router_id 54
    priority 200
    advert_int 1
    virtual_ipaddress {
        2001:db8::54/64
        2001:db8::55/64
    }
}
EOF

lab_start c tcpdump -i "${P}b" -U -w "$OUT/all.pcap" \
    'ip proto 112 or ip6 proto 112 or arp or (icmp6 and ip6[40] == 136)' 2>"$OUT/tcpdump.log"
TD_PID=$LAB_PID
sleep 1
lab_start k keepalived -n -l -D --vrrp -f "$OUT/keepalived.conf" \
    -p "/tmp/${P}keepalived.pid" -r "/tmp/${P}vrrp.pid" >"$OUT/keepalived.log" 2>&1
KA_PID=$LAB_PID
# Backup -> master after Master_Down_Interval (about 3 adverts), then a few adverts.
sleep 10
lab_stop "$KA_PID"
sleep 0.5
lab_stop "$TD_PID"
rm -f "/tmp/${P}keepalived.pid" "/tmp/${P}vrrp.pid"

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
