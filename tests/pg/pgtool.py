#!/usr/bin/env python3
"""Helpers of the PostgreSQL end-to-end test (standard library and psql only).

  pgtool.py writer HOST PREFIX ACKFILE      insert unique keys through HOST until SIGTERM;
                                            append "KEY EPOCH_MS" for each acknowledged key to ACKFILE
  pgtool.py probe OUTFILE NAME=SOCKDIR...   every 100 ms ask each server directly (by its
                                            unix socket) for its role and, on a primary, make
                                            a write; one line per round: EPOCH_MS a=W b=R
                                            (W acknowledged a write, S primary that did not,
                                            R replica, - no answer)
  pgtool.py http PORT NODE DBHOST           the stand-in portal: GET / answers with a row
                                            count read through DBHOST (the VIP)
  pgtool.py get URL                         print the body of URL, exit 1 on failure

Every wait is bounded; a session that does not answer in time is killed and reopened.
"""

import http.server
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.request

PSQL = os.environ.get("PSQL", "/usr/lib/postgresql/15/bin/psql")
STOP = False


def on_term(_signum, _frame):
    global STOP
    STOP = True


class Session:
    """One psql process fed statements on stdin; each batch ends with an \\echo marker."""

    def __init__(self, args):
        self.args = args
        self.proc = None
        self.buf = b""
        self.n = 0

    def close(self):
        if self.proc is not None:
            try:
                self.proc.kill()
            except OSError:
                pass
            self.proc.wait()
            self.proc = None
            self.buf = b""

    def run(self, script, timeout):
        """Send `script`; return its output lines, or None on timeout or a dead session."""
        lines, complete = self.run_partial(script, timeout)
        return lines if complete else None

    def run_partial(self, script, timeout):
        """Send `script`; return (output lines so far, whether it finished in time). An
        unfinished session is killed."""
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            env = dict(os.environ, PGCONNECT_TIMEOUT="1")
            self.proc = subprocess.Popen(
                [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0"] + self.args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        self.n += 1
        marker = f"__END{self.n}__".encode()
        try:
            self.proc.stdin.write(script.encode() + b"\n\\echo " + marker + b"\n")
            self.proc.stdin.flush()
        except OSError:
            self.close()
            return [], False
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while marker + b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    partial = self.buf.decode(errors="replace").splitlines()
                    self.close()
                    return partial, False
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    partial = self.buf.decode(errors="replace").splitlines()
                    self.close()
                    return partial, False
                self.buf += chunk
        finally:
            sel.close()
        out, _, self.buf = self.buf.partition(marker + b"\n")
        return out.decode(errors="replace").splitlines(), True


def writer(host, prefix, ackfile):
    session = Session(["-h", host, "-U", "postgres", "-d", "postgres"])
    n = 0
    with open(ackfile, "a", buffering=1) as acks:
        while not STOP:
            n += 1
            key = f"{prefix}-{n}"
            script = (
                f"INSERT INTO acked(k) VALUES ('{key}');\n"
                f"\\if :ERROR\n\\echo FAIL {key}\n\\else\n\\echo ACK {key}\n\\endif"
            )
            lines = session.run(script, 1.0)
            if lines and f"ACK {key}" in lines:
                acks.write(f"{key} {int(time.time() * 1000)}\n")
                time.sleep(0.005)
            else:
                # Refused (read-only, no connection) or no answer: not acknowledged.
                session.close()
                time.sleep(0.05)
    session.close()


# One probe round on one server: its role, and on a primary a real write (autocommit),
# which counts only if it is acknowledged within the probe's timeout.
PROBE_SCRIPT = """SELECT pg_is_in_recovery() AS rec \\gset
\\if :ERROR
\\echo ROLE -
\\elif :rec
\\echo ROLE R
\\else
\\echo PRIMARY
INSERT INTO probe_writes(node) VALUES ('{node}');
\\if :ERROR
\\echo ROLE S
\\else
\\echo ROLE W
\\endif
\\endif"""


def classify(lines, complete):
    """W: a primary that acknowledged a write; S: a primary that did not (refused, or
    waiting for a synchronous standby that is gone); R: a replica; -: no answer."""
    for role in "WSR-":
        if complete and f"ROLE {role}" in lines:
            return role
    return "S" if "PRIMARY" in lines else "-"


def probe(outfile, targets):
    nodes = [t.split("=", 1) for t in targets]
    sessions = {name: Session(["-h", sock, "-U", "prober", "-d", "postgres"]) for name, sock in nodes}
    with open(outfile, "a", buffering=1) as out:
        while not STOP:
            t0 = time.monotonic()
            states = []
            for name, _ in nodes:
                lines, complete = sessions[name].run_partial(PROBE_SCRIPT.format(node=name), 0.5)
                states.append(f"{name}={classify(lines, complete)}")
            out.write(f"{int(time.time() * 1000)} {' '.join(states)}\n")
            time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))
    for s in sessions.values():
        s.close()


def serve(port, node, dbhost):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                out = subprocess.run(
                    [PSQL, "-X", "-q", "-A", "-t", "-h", dbhost, "-U", "postgres", "-d", "postgres",
                     "-c", "SELECT count(*) FROM acked"],
                    capture_output=True, timeout=3, env=dict(os.environ, PGCONNECT_TIMEOUT="2"),
                )
                ok = out.returncode == 0
                body = f"portal on {node}: {out.stdout.decode().strip()} rows\n" if ok else "database unreachable\n"
            except subprocess.TimeoutExpired:
                ok, body = False, "database timed out\n"
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", int(port)), Handler)
    server.timeout = 0.5
    while not STOP:
        server.handle_request()


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            sys.stdout.write(resp.read().decode())
            return 0
    except Exception as e:  # noqa: BLE001 - any failure is a failed probe
        sys.stderr.write(f"{url}: {e}\n")
        return 1


def main():
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "writer":
        writer(*args)
    elif cmd == "probe":
        probe(args[0], args[1:])
    elif cmd == "http":
        serve(*args)
    elif cmd == "get":
        return get(args[0])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
