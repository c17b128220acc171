#!/usr/bin/env bash
# Capture keepalived 2.4.3 adverts carrying the auth_hmac trailer, for the wire/ test
# vectors (tests/fixtures/wire/keepalived-2.4.3-auth-hmac.txt).
#
# Same shape as capture-keepalived-vectors.sh: two namespaces joined by a veth pair,
# keepalived (VRRP only) in one with four instances signing with a fixed test key
# (v2 over IPv4, v3 over IPv4, v3 over IPv6 multicast, v3 over IPv6 unicast from
# 2001:db8::1 to 2001:db8::2), tcpdump in the other. Prints one line
# per packet: the tshark checksum verdict, then the IP packet in hex.
#
# Usage: sudo scripts/capture-keepalived-hmac-vectors.sh [OUTDIR]
# Needs: root, ip, tcpdump, tshark, keepalived 2.4.3 built with VRRP_AUTH
# (KEEPALIVED=/opt/keepalived-2.4.3/sbin/keepalived by default). Documentation
# addresses only (192.0.2.0/24, 2001:db8::/32).
set -euo pipefail

OUT=${1:-$(mktemp -d /tmp/bhmac-vectors.XXXXXX)}
KEEPALIVED=${KEEPALIVED:-/opt/keepalived-2.4.3/sbin/keepalived}
mkdir -p "$OUT"
# shellcheck source=scripts/lib/lab.sh
. "$(dirname "$0")/lib/lab.sh"
lab_init bhmac   # namespaces bhmac<pid>-k (keepalived) and bhmac<pid>-c (tcpdump)
P=$LAB_P

for node in k c; do
    lab_node "$node"
    lab_nodad "$node"
done
lab_pair k "${P}a" c "${P}b"
ip -n "${P}k" link set "${P}a" address 02:00:5e:00:00:0a
ip -n "${P}c" link set "${P}b" address 02:00:5e:00:00:0b
ip -n "${P}k" addr add 192.0.2.1/24 dev "${P}a"
ip -n "${P}k" addr add 2001:db8::1/64 dev "${P}a" nodad
ip -n "${P}c" addr add 192.0.2.2/24 dev "${P}b"
ip -n "${P}c" addr add 2001:db8::2/64 dev "${P}b" nodad
ip -n "${P}k" link set "${P}a" up
ip -n "${P}c" link set "${P}b" up

# Test keys: key 1 is 32 bytes of 0x00..0x1f, key 7 the ASCII string below (from a file).
printf 'baton-test-key-0123456789abcdefgh\n' >"$OUT/key7"
chmod 600 "$OUT/key7"
cat >"$OUT/keepalived.conf" <<CONF
global_defs {
    router_id bhmac
}
vrrp_instance H_V2 {
    version 2
    state BACKUP
    interface ${P}a
    virtual_router_id 61
    priority 150
    advert_int 1
    auth_hmac {
        key 1 hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
        active_key 1
    }
    virtual_ipaddress {
        192.0.2.61/24
        192.0.2.62/24
    }
}
vrrp_instance H_V3_V4 {
    version 3
    state BACKUP
    interface ${P}a
    virtual_router_id 63
    priority 100
    advert_int 1
    auth_hmac {
        key 1 hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
        key 7 file:$OUT/key7
        active_key 7
        anti_replay monotonic
    }
    virtual_ipaddress {
        192.0.2.63/24
    }
}
vrrp_instance H_V3_V6 {
    version 3
    state BACKUP
    interface ${P}a
    virtual_router_id 64
    priority 200
    advert_int 1
    auth_hmac {
        key 1 hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
        active_key 1
        mode permissive
    }
    virtual_ipaddress {
        2001:db8::64/64
    }
}
vrrp_instance H_V3_V6_UC {
    version 3
    state BACKUP
    interface ${P}a
    virtual_router_id 65
    priority 220
    advert_int 1
    unicast_src_ip 2001:db8::1
    unicast_peer {
        2001:db8::2
    }
    auth_hmac {
        key 1 hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
        active_key 1
    }
    virtual_ipaddress {
        2001:db8::65/64
    }
}
CONF

lab_start c tcpdump -i "${P}b" -U -w "$OUT/all.pcap" 'ip proto 112 or ip6 proto 112' \
    2>"$OUT/tcpdump.log"
TD_PID=$LAB_PID
sleep 1
lab_start k "$KEEPALIVED" -n -l -D -f "$OUT/keepalived.conf" \
    -p "/tmp/${P}keepalived.pid" -r "/tmp/${P}vrrp.pid" >"$OUT/keepalived.log" 2>&1
KA_PID=$LAB_PID
sleep 8
lab_stop "$KA_PID"
sleep 0.5
lab_stop "$TD_PID"
rm -f "/tmp/${P}keepalived.pid" "/tmp/${P}vrrp.pid"

# One line per packet: vrid, priority, tshark's checksum status (1 Good, 0 Bad), the IP packet in hex.
tshark -r "$OUT/all.pcap" -o vrrp.v3_checksum_as_in_v2:FALSE -T fields -E separator=' ' \
    -e vrrp.virt_rtr_id -e vrrp.prio -e vrrp.checksum.status 2>/dev/null >"$OUT/tshark.txt" || true
tcpdump -r "$OUT/all.pcap" -nn -x 2>/dev/null | awk '
    /^[0-9]/ { if (hex != "") print hex; hex = ""; next }
    /^\t0x/ { for (i = 2; i <= NF; i++) hex = hex $i; next }
    END { if (hex != "") print hex }
' >"$OUT/hex.txt"
paste -d' ' "$OUT/tshark.txt" "$OUT/hex.txt" | tee "$OUT/vrrp-hmac-vectors.txt"
grep -i "auth\|hmac" "$OUT/keepalived.log" >&2 || true
echo "pcap and vectors in $OUT" >&2
