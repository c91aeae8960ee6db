#!/usr/bin/env python3
"""Time a newcomer's first `make demo`: a fresh clone, `make demo` until /readyz answers, Ctrl-C.

    hack/time-first-demo.py            # warm package cache (~/.cache/uv as it is)
    hack/time-first-demo.py --cold     # an empty uv cache of its own: every wheel downloaded

The clone, its venv, the state dir (so a model is trained, as on a first run) and a cold cache
live in one temp dir, removed at the end. Prints when each phase's first line appeared, the
time to ready, and how long the Ctrl-C took. Uses only the standard library.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The first output line of each phase, in order.
PHASES = (
    ("install", "== installing starcast"),
    ("up", "starcast up"),
    ("broker", "broker:"),
    ("model", "model:"),
    ("serving", "starcast is up"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="an empty uv cache of its own")
    parser.add_argument("--ref", default="HEAD", help="the commit to clone (default HEAD)")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this (s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="starcast-first-demo-") as temp:
        base = Path(temp)
        clone = base / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", args.ref], check=True)
        port = free_port()
        environment = {**os.environ, "XDG_DATA_HOME": str(base / "data")}
        environment["STARCAST_PORT"] = str(port)
        if args.cold:
            environment["UV_CACHE_DIR"] = str(base / "uv-cache")
        log_path = base / "make-demo.log"
        seen: dict[str, float] = {}
        start = time.monotonic()
        process = subprocess.Popen(
            ["make", "demo"],
            cwd=clone,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
        )

        def read_output() -> None:
            assert process.stdout is not None
            with log_path.open("w") as log:
                for line in process.stdout:
                    log.write(line)
                    for phase, marker in PHASES:
                        if phase not in seen and marker in line:
                            seen[phase] = time.monotonic() - start

        reader = threading.Thread(target=read_output, daemon=True)
        reader.start()
        ready_s = None
        while time.monotonic() - start < args.timeout and process.poll() is None:
            if ready(port):
                ready_s = time.monotonic() - start
                break
            time.sleep(0.5)
        stop_start = time.monotonic()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
        stop_s = time.monotonic() - stop_start
        reader.join(timeout=5)
        print(f"cache: {'cold (empty uv cache)' if args.cold else 'warm'}; cores: {os.cpu_count()}")
        for phase, _marker in PHASES:
            if phase in seen:
                print(f"  {phase:<8} first line at {seen[phase]:6.1f} s")
        if ready_s is None:
            print(f"not ready (make exited {code}); its output:\n{log_path.read_text()[-3000:]}")
            return 1
        print(f"ready (/readyz 200) after {ready_s:.1f} s; Ctrl-C stopped it in {stop_s:.1f} s")
        return 0


if __name__ == "__main__":
    sys.exit(main())
