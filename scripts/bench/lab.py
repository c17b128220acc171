"""The network-namespace lab of the Python scripts: scripts/soak, scripts/bench-scale and
scripts/bench-stall (Python 3 standard library only; needs root). The shell scripts have
the same in scripts/lib/lab.sh, the Rust tests in tests/lab/.

    lab = Lab("bsk")                      # namespaces bsk<pid>-NODE
    lab.bridge("br")                      # namespace <prefix>br with bridge br0
    lab.add_ns("a")                       # namespace <prefix>a, lo up
    lab.port("br", "a", "a", "veth0", "192.0.2.1/24")
    p = lab.start("a", ["baton", "run", ...], stderr=log)
    lab.stop(p)                           # SIGTERM, up to 10 s, then SIGKILL
    lab.cleanup()                         # also on `with Lab(...) as lab:` exit

Only the processes started here are signalled (and only while Popen has not reaped them),
and only the namespaces made here are deleted.
"""

import os
import signal
import subprocess


def run(*args, check=True):
    out = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {out.stderr.strip()}")
    return out


class Lab:
    def __init__(self, tag):
        self.prefix = f"{tag}{os.getpid()}-"
        self.namespaces = []
        self.started = []

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.cleanup()

    def ns(self, node):
        return self.prefix + node

    def add_ns(self, node):
        """A namespace for `node`, with lo up; returns its name."""
        name = self.ns(node)
        self.namespaces.append(name)
        run("ip", "netns", "add", name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def nodad(self, node):
        """No IPv6 DAD in `node` for the interfaces made from now on."""
        for key in ("all", "default"):
            run("ip", "netns", "exec", self.ns(node), "sysctl", "-q", "-w",
                f"net.ipv6.conf.{key}.accept_dad=0")

    def bridge(self, node, bridges=("br0",)):
        """A namespace for `node` holding these bridges (no multicast snooping, no STP)."""
        ns = self.add_ns(node)
        for bridge in bridges:
            run("ip", "-n", ns, "link", "add", bridge, "type", "bridge", "mcast_snooping", "0",
                "stp_state", "0")
            run("ip", "-n", ns, "link", "set", bridge, "up")

    def port(self, br_node, port, node, dev, addr, bridge="br0"):
        """A veth from `bridge` in `br_node` (port named `port`) to `dev` in `node`, with
        `addr` (a/len), up."""
        br, ns = self.ns(br_node), self.ns(node)
        run("ip", "-n", br, "link", "add", "name", port, "type", "veth", "peer", "name", dev,
            "netns", ns)
        run("ip", "-n", br, "link", "set", "dev", port, "master", bridge, "up")
        run("ip", "-n", ns, "addr", "add", addr, "dev", dev)
        run("ip", "-n", ns, "link", "set", "dev", dev, "up")

    def exec(self, node, *args, check=True):
        """Run a command in `node` to completion."""
        return run("ip", "netns", "exec", self.ns(node), *args, check=check)

    def start(self, node, args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        """Start `args` in `node` (None: in this namespace), recorded for cleanup.
        `ip netns exec` execs the command, so the Popen's pid is the command's own."""
        prefix = [] if node is None else ["ip", "netns", "exec", self.ns(node)]
        p = subprocess.Popen(prefix + list(args), stdin=subprocess.DEVNULL, stdout=stdout,
                             stderr=stderr)
        self.started.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        """Send `sig` to a process started here and wait up to `timeout` seconds for it;
        then SIGKILL. True if it exited by itself."""
        if p.poll() is not None:
            return True
        p.send_signal(sig)
        try:
            p.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return False

    def cleanup(self):
        """Kill every process started here that still runs, delete every namespace made
        here. Safe to call again; the lab can be built anew afterwards."""
        for p in self.started:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait()
        self.started = []
        for ns in reversed(self.namespaces):
            run("ip", "netns", "del", ns, check=False)
        self.namespaces = []
