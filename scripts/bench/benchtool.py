#!/usr/bin/env python3
"""Helpers for scripts/bench-failover (Python 3 standard library only).

Subcommands:
  outage PINGLOG T_FAIL BOUND_MS MASTER_IP BACKUP_IP
      Read prober (or `ping -D`) output and print one line
      "OUTAGE_MS LAST_BEFORE_MS FIRST_AFTER_MS LOST TAKEOVER_MS OVERHEAD_MS",
      or "FAIL <reason>". The outage is the longest gap between two consecutive echo replies
      that ends after the failure (the failover gap). LAST_BEFORE_MS is the last reply
      before that gap relative to T_FAIL (negative = before), FIRST_AFTER_MS the first reply
      after it; LOST is the number of icmp_seq numbers missing inside the gap. TAKEOVER_MS is
      the time from the master's last advert to the backup's first advert as master (the
      protocol says Master_Down_Interval); OVERHEAD_MS is the first reply after the gap
      minus (the master's last advert + BOUND_MS): what the daemon adds to the protocol.
  recovered PINGLOG SINCE
      Exit 0 when the log holds an echo reply stamped after SINCE (epoch seconds).
  ticks PID...
      Print "PID UTIME+STIME_TICKS VMRSS_KB" per pid (from /proc), and the clock ticks per
      second on the first line as "HZ n".
  report RESULTS
      Print the side-by-side table, the targets and the raw numbers from the results file.
"""

import os
import re
import statistics
import sys

REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+)")
ADVERT = re.compile(r"^# advert (\d+\.\d+) src=(\S+) vrid=(\d+) prio=(\d+)")


def replies(path):
    """(timestamp, icmp_seq) of every echo reply in a `ping -D` log, in file order."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = REPLY.match(line)
            if m:
                out.append((float(m.group(1)), int(m.group(2))))
    return out


def adverts(path):
    """(timestamp, src, vrid, prio) of every VRRP advert the prober logged."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = ADVERT.match(line)
            if m:
                out.append((float(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))))
    return out


def cmd_outage(path, t_fail, bound_ms, master, backup):
    t_fail = float(t_fail)
    bound = float(bound_ms) / 1000
    rs = [r for r in replies(path) if r[0] >= t_fail - 1.0]
    if not [r for r in rs if r[0] <= t_fail]:
        print("FAIL no-reply-in-the-second-before-failure")
        return
    # The failover gap: the longest gap between consecutive replies that ends after the
    # failure (it starts at the last reply before the failure, or at an in-flight reply
    # just after it).
    best = None
    for prev, cur in zip(rs, rs[1:]):
        gap = cur[0] - prev[0]
        if cur[0] > t_fail and (best is None or gap > best[0]):
            best = (gap, prev, cur)
    if best is None:
        print("FAIL no-reply-after-failure")
        return
    gap, prev, cur = best
    if cur[0] <= t_fail:
        print("FAIL no-reply-after-failure")
        return
    # Replies must keep coming after the gap, or the run did not recover.
    after = [r for r in rs if r[0] > cur[0]]
    if len(after) < 5:
        print("FAIL no-steady-replies-after-failure")
        return
    lost = ((cur[1] - prev[1]) % 65536) - 1
    # Against the protocol: the backup may take over Master_Down_Interval after the last
    # advert it heard from the master (the client hears the same multicast adverts).
    ads = adverts(path)
    last_m = [a[0] for a in ads if a[1] == master and a[3] > 0 and a[0] <= cur[0]]
    first_b = [a[0] for a in ads if a[1] == backup and a[3] > 0 and a[0] > t_fail]
    takeover = f"{(first_b[0] - last_m[-1]) * 1000:.1f}" if last_m and first_b else "nan"
    overhead = f"{(cur[0] - last_m[-1] - bound) * 1000:.1f}" if last_m else "nan"
    print(
        f"{gap * 1000:.1f} {(prev[0] - t_fail) * 1000:.1f} "
        f"{(cur[0] - t_fail) * 1000:.1f} {lost} {takeover} {overhead}"
    )


def cmd_recovered(path, since):
    since = float(since)
    try:
        ok = any(t > since for t, _ in replies(path))
    except OSError:
        ok = False
    sys.exit(0 if ok else 1)


def cmd_ticks(pids):
    print(f"HZ {os.sysconf('SC_CLK_TCK')}")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                stat = f.read()
            # Fields after the ")" that closes comm: state is field 3, utime 14, stime 15.
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks = int(fields[11]) + int(fields[12])
            rss = 0
            with open(f"/proc/{pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
            print(f"{pid} {ticks} {rss}")
        except (OSError, ValueError, IndexError):
            print(f"{pid} -1 -1")


def fmt_ms(values):
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:7.1f} ms ({min(values):.1f}..{max(values):.1f})"


def valid(nodes, flaps):
    """A resource run is clean when a kept (nearly) 10,000 adverts/s and b stayed backup."""
    return nodes["a"][4] >= 8000 and nodes["b"][4] <= 10 and not flaps


def describe_validity(daemon, nodes, flaps):
    if valid(nodes, flaps):
        return "clean window (b never became master in it)"
    return (
        f"NOT CLEAN: a sent {nodes['a'][4]}/s of 10000, b sent {nodes['b'][4]}/s "
        f"(a backup sends none), b became master {flaps} times in the window"
    )


def cmd_report(path):
    settings = []  # in order of first appearance
    bounds = {}
    outages = {}  # (daemon, setting) -> [ms]
    overheads = {}  # (daemon, setting) -> [ms]
    takeovers = {}  # (daemon, setting) -> [ms]
    fails = {}  # (daemon, setting) -> count
    raw = []
    res = {}  # daemon -> {node: (cpu, rss_kb, rss_sum_kb, stable)}
    daemons = []
    flaps = {}  # daemon -> transitions to master on b in the resource window
    startup_flaps = {}  # daemon -> the same before the window (start-up)
    with open(path, encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "setting":
                settings.append(p[1])
                bounds[p[1]] = float(p[2])
            elif p[0] == "outage":
                _, daemon, setting, run, result = p[:5]
                if daemon not in daemons:
                    daemons.append(daemon)
                raw.append((daemon, setting, run, result, p[5] if len(p) > 5 else ""))
                r = result.split()
                if r[0] == "FAIL":
                    fails[(daemon, setting)] = fails.get((daemon, setting), 0) + 1
                else:
                    outages.setdefault((daemon, setting), []).append(float(r[0]))
                    if len(r) >= 6 and r[4] != "nan":
                        takeovers.setdefault((daemon, setting), []).append(float(r[4]))
                    if len(r) >= 6 and r[5] != "nan":
                        overheads.setdefault((daemon, setting), []).append(float(r[5]))
            elif p[0] == "flaps":
                flaps[p[1]] = int(p[2])
                startup_flaps[p[1]] = int(p[3])
            elif p[0] == "res":
                _, daemon, node, cpu, rss, rss_sum, stable, pps = p[:8]
                if daemon not in daemons:
                    daemons.append(daemon)
                res.setdefault(daemon, {})[node] = (
                    float(cpu),
                    int(rss),
                    int(rss_sum),
                    stable,
                    int(pps),
                )

    cols = [d for d in ("baton", "witness", "keepalived") if d in daemons]
    head = f"{'setting':<16} {'bound':>9}   " + "".join(
        f"{d + ' median (min..max)':<34}" for d in cols
    )
    print(head)
    for s in settings:
        row = f"{s:<16} {bounds[s]:6.1f} ms   "
        for d in cols:
            cell = fmt_ms(outages.get((d, s), []))
            nf = fails.get((d, s), 0)
            if nf:
                cell += f" [{nf} failed]"
            row += f"{cell:<34}"
        print(row.rstrip())

    if overheads:
        print()
        print("against the protocol, per run: takeover = backup's first advert - master's last")
        print("advert (should equal the bound); overhead = first reply - (master's last advert +")
        print("bound), what the daemon and the client path add. median (min..max):")
        print(f"{'setting':<16} {'':>9}   " + "".join(f"{d + ' takeover / overhead':<34}" for d in cols))
        for s_ in settings:
            row = f"{s_:<16} {bounds[s_]:6.1f} ms   "
            for d in cols:
                t = takeovers.get((d, s_), [])
                o = overheads.get((d, s_), [])
                cell = (
                    f"{statistics.median(t):.1f} / {statistics.median(o):+.1f} "
                    f"({min(o):+.1f}..{max(o):+.1f})"
                    if t and o
                    else "-"
                )
                row += f"{cell:<34}"
            print(row.rstrip())
        print()

    def cpu_total(d):
        return sum(v[0] for v in res[d].values())

    if res:
        parts = []
        for d in cols:
            if d in res:
                nodes = res[d]
                parts.append(
                    f"{d} {cpu_total(d):.1f} ("
                    + " + ".join(f"{n} {nodes[n][0]:.1f}" for n in sorted(nodes))
                    + ")"
                )
        print(f"{'100 inst @10ms':<16} CPU% (master a + backup b): " + ";  ".join(parts))
        parts = []
        for d in cols:
            if d in res:
                nodes = res[d]
                if d == "keepalived":
                    parts.append(
                        f"{d} "
                        + ", ".join(
                            f"{n} {nodes[n][1] / 1024:.1f} MB (VRRP child; "
                            f"parent+child {nodes[n][2] / 1024:.1f} MB)"
                            for n in sorted(nodes)
                        )
                    )
                else:
                    parts.append(
                        f"{d} "
                        + ", ".join(f"{n} {nodes[n][1] / 1024:.1f} MB" for n in sorted(nodes))
                    )
        print(f"{'':<16} RSS: " + ";  ".join(parts))
        parts = []
        for d in cols:
            if d in res:
                parts.append(
                    f"{d} " + ", ".join(f"{n} {res[d][n][4]}" for n in sorted(res[d]))
                )
        print(f"{'':<16} packets/s sent (expect a 10000, b ~0): " + ";  ".join(parts))
        for d in cols:
            if d in res:
                print(
                    f"{'':<16} {d}: {describe_validity(d, res[d], flaps.get(d))}; "
                    f"VIPs (1 s snapshots): {res[d]['a'][3]}; b became master "
                    f"{startup_flaps.get(d)} times at start-up (before the window)"
                )

    if "witness" in daemons and "baton" in daemons:
        print()
        print("witness (issue 16): what the lease adds to a failover: median overhead over the")
        print("protocol with the witness minus without (the outage itself varies with the random")
        print("moment of the failure); target: one etcd round trip (under 1 ms here) plus 50 ms:")
        for s in settings:
            w = overheads.get(("witness", s), [])
            b = overheads.get(("baton", s), [])
            if not w or not b:
                print(f"  {s}: no successful run to compare")
                continue
            added = statistics.median(w) - statistics.median(b)
            line = (
                f"  {s}: {added:+.1f} ms (worst witness run {max(w):+.1f} ms) -> "
                f"{'MET' if added <= 51 else 'MISSED'}"
            )
            nf = fails.get(("witness", s), 0)
            if nf:
                line += f"; {nf} run(s) FAILED"
            print(line)

    if "baton" in daemons:
        print()
        print("targets (baton):")
        for s in settings:
            b = outages.get(("baton", s), [])
            if not b:
                print(f"  {s}: no successful baton run")
                continue
            mb = statistics.median(b)
            ok = mb <= bounds[s] + 5
            line = (
                f"  {s}: median {mb:.1f} ms vs bound+5 {bounds[s] + 5:.1f} ms -> "
                f"{'MET' if ok else 'MISSED'}"
            )
            k = outages.get(("keepalived", s), [])
            if k:
                mk = statistics.median(k)
                line += (
                    f"; vs keepalived median {mk:.1f} ms -> "
                    f"{'MET' if mb <= mk else 'MISSED'}"
                )
            o = overheads.get(("baton", s), [])
            if o:
                line += (
                    f"; worst per-run overhead over the protocol {max(o):+.1f} ms (stricter) -> "
                    f"{'MET' if max(o) <= 5 else 'MISSED'}"
                )
            nf = fails.get(("baton", s), 0)
            if nf:
                line += f"; {nf} run(s) FAILED"
            print(line)
        if "baton" in res:
            cb = cpu_total("baton")
            bad = [d for d in ("baton", "keepalived") if d in res and not valid(res[d], flaps.get(d))]
            if bad:
                print(
                    f"  CPU: NOT JUDGED, the resource run of {' and '.join(bad)} was not clean "
                    f"(baton {cb:.1f}%"
                    + (f", keepalived {cpu_total('keepalived'):.1f}%" if "keepalived" in res else "")
                    + ")"
                )
            elif "keepalived" in res:
                ck = cpu_total("keepalived")
                print(
                    f"  CPU: baton {cb:.1f}% vs half of keepalived {ck / 2:.1f}% -> "
                    f"{'MET' if cb <= ck / 2 else 'MISSED'}"
                )
            gone = [n for n, v in res["baton"].items() if v[0] < 0 or v[1] <= 0]
            if gone:
                print(f"  RSS: NOT MEASURED, baton on {' and '.join(sorted(gone))} was not running")
            else:
                worst = max(v[1] for v in res["baton"].values()) / 1024
                print(
                    f"  RSS: baton max {worst:.1f} MB vs 10 MB -> "
                    f"{'MET' if worst < 10 else 'MISSED'}"
                )

    print()
    print("raw outage runs (outage ms; last reply before and first reply after the gap, in ms")
    print("from the link-down command; probes lost in the gap; random delay before the failure):")
    for daemon, setting, run, result, extra in raw:
        r = result.split()
        if r[0] == "FAIL":
            text = result
        else:
            text = f"{r[0]:>7} ms  (last {r[1]:>6}, first {r[2]:>7}, lost {r[3]:>5}"
            if len(r) >= 6:
                text += f", takeover {r[4]:>7}, overhead {r[5]:>5}"
            text += ")"
        print(f"  {daemon:<10} {setting:<14} run {run:>2}: {text}  {extra}")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "outage" and len(args) == 5:
        cmd_outage(*args)
    elif cmd == "recovered" and len(args) == 2:
        cmd_recovered(*args)
    elif cmd == "ticks":
        cmd_ticks(args)
    elif cmd == "report" and len(args) == 1:
        cmd_report(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
