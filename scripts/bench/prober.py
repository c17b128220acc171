#!/usr/bin/env python3
"""ICMP echo prober for scripts/bench-failover (Python 3 standard library only; needs root).

    prober.py TARGET INTERVAL_S MAX_SECONDS [IFNAME]

Sends one echo request to TARGET every INTERVAL_S seconds on a fixed schedule, whether or
not replies come back (iputils ping slows down while replies are missing, which coarsens
the reading exactly during an outage), until SIGINT/SIGTERM or MAX_SECONDS. Prints one
line per reply in the format of `ping -D`, stamped with the receive time:

    [1700000000.123456] 64 bytes from 192.0.2.100: icmp_seq=17

and one line per request sent, "# sent <epoch> icmp_seq=N", so the log shows the schedule.
With IFNAME it also listens on that interface (packet socket) for VRRP adverts (IP
protocol 112) and logs each as "# advert <epoch> src=<ip> vrid=<n> prio=<n>", so a run can
be compared with the protocol: the backup must take over Master_Down_Interval after the
last advert of the failed master. Lines are flushed as written.
"""

import os
import select
import signal
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def request(ident, seq):
    payload = b"baton-bench-" + struct.pack("!d", time.time()) + b"\0" * 36
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    csum = checksum(hdr + payload)
    return struct.pack("!BBHHH", 8, 0, csum, ident, seq) + payload


def drain_adverts(cap, out):
    while True:
        try:
            data = cap.recv(2048)
        except (BlockingIOError, InterruptedError):
            return
        t = time.time()
        if len(data) < 20 or data[9] != 112:
            continue
        ihl = (data[0] & 0x0F) * 4
        vrrp = data[ihl:]
        if len(vrrp) < 4:
            continue
        src = socket.inet_ntoa(data[12:16])
        out.write(f"# advert {t:.6f} src={src} vrid={vrrp[1]} prio={vrrp[2]}\n")


def main(argv):
    if len(argv) not in (4, 5):
        sys.exit(__doc__)
    target, interval, max_s = argv[1], float(argv[2]), float(argv[3])
    socks = []
    if len(argv) == 5:
        cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
        cap.bind((argv[4], 0x0800))
        cap.setblocking(False)
        socks.append(cap)
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setblocking(False)
    socks.insert(0, sock)
    ident = os.getpid() & 0xFFFF
    out = sys.stdout
    start = time.monotonic()
    next_send = start
    seq = 0
    while not stop and time.monotonic() - start < max_s:
        now = time.monotonic()
        if now >= next_send:
            seq = (seq + 1) & 0xFFFF
            try:
                sock.sendto(request(ident, seq), (target, 0))
                out.write(f"# sent {time.time():.6f} icmp_seq={seq}\n")
            except OSError as e:  # e.g. no route while the neighbour is unresolved
                out.write(f"# send-error {time.time():.6f} icmp_seq={seq} {e}\n")
            next_send += interval
            if next_send < now:  # fell behind (scheduler): skip, never burst
                next_send = now + interval
        try:
            ready, _, _ = select.select(socks, [], [], max(0.0, next_send - time.monotonic()))
        except InterruptedError:
            continue
        if len(socks) > 1 and socks[1] in ready:
            drain_adverts(socks[1], out)
        while sock in ready:
            try:
                data, addr = sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            t = time.time()
            ihl = (data[0] & 0x0F) * 4
            icmp = data[ihl:]
            if len(icmp) < 8:
                continue
            typ, _, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if typ == 0 and rid == ident:
                out.write(f"[{t:.6f}] {len(icmp)} bytes from {addr[0]}: icmp_seq={rseq}\n")
        out.flush()
    out.flush()


if __name__ == "__main__":
    main(sys.argv)
