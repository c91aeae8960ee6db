"""What a user waits for at the command line: `starcast --help` and every subcommand's --help.

Each command runs as a whole new process (`python -m starcast ... --help`, what the `starcast`
script runs), against `python -c pass` in the same run: rounds alternate every command with the
baseline, so a machine's load falls on all of them alike. Figures are medians over the rounds.

    python -m bench.startup [--quick] [--rounds N]

Last line: `startup: help_s=... python_s=... root_help_s=... slowest=... commands=... load=...`
(help_s is the slowest command's median; the goal is under 0.5 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from typer.main import get_command

from starcast.cli import app

GOAL_S = 0.5
CORES = os.cpu_count() or 1


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command of the tree, the root first; a group's subcommands are under `commands`."""
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from command_paths(sub, (*path, name))


def timed_run(argv: list[str]) -> tuple[float, float]:
    """Wall seconds, and the CPU seconds (user + system) the process used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _label(name: str) -> str:
    """`starcast serve worker --help` -> serve_worker; the root's is `root`."""
    words = name.split()[1:-1]
    return "_".join(words) or "root"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 11")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 11)

    baseline = "python -c pass"
    argvs: dict[str, list[str]] = {baseline: [sys.executable, "-c", "pass"]}
    for path in command_paths(get_command(app)):
        argvs[" ".join(("starcast", *path, "--help"))] = [
            sys.executable,
            "-m",
            "starcast",
            *path,
            "--help",
        ]
    walls: dict[str, list[float]] = {name: [] for name in argvs}
    cpus: dict[str, list[float]] = {name: [] for name in argvs}
    loads: list[float] = []
    for argv in argvs.values():  # warm the page cache once, untimed
        timed_run(argv)
    for _ in range(rounds):
        loads.append(os.getloadavg()[0])
        for name, argv in argvs.items():
            wall, cpu = timed_run(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)

    wall_s = {name: statistics.median(samples) for name, samples in walls.items()}
    cpu_s = {name: statistics.median(samples) for name, samples in cpus.items()}
    python_s, python_cpu_s = wall_s.pop(baseline), cpu_s.pop(baseline)
    print(f"{rounds} rounds, load average {min(loads):.1f}-{max(loads):.1f} (1 min), {CORES} cores")
    print("CPU s (user + system) is what the command costs on idle cores; wall s includes waiting")
    print(f"{'command':<40} {'wall s':>8} {'CPU s':>8}")
    print(f"{baseline:<40} {python_s:>8.3f} {python_cpu_s:>8.3f}")
    for name in sorted(wall_s, key=lambda name: -wall_s[name]):
        print(f"{name:<40} {wall_s[name]:>8.3f} {cpu_s[name]:>8.3f}")
    slowest = max(wall_s, key=lambda name: wall_s[name])
    slowest_cpu = max(cpu_s, key=lambda name: cpu_s[name])
    for label, figures, name in (("wall", wall_s, slowest), ("CPU", cpu_s, slowest_cpu)):
        verdict = "meets" if figures[name] < GOAL_S else "misses"
        print(f"slowest by {label}: {name} {figures[name]:.3f}s, {verdict} the {GOAL_S}s goal")
    print(
        "startup: "
        f"help_s={wall_s[slowest]:.3f} python_s={python_s:.3f} "
        f"help_cpu_s={cpu_s[slowest_cpu]:.3f} python_cpu_s={python_cpu_s:.3f} "
        f"root_help_s={wall_s['starcast --help']:.3f} "
        f"slowest={_label(slowest)} "
        f"commands={len(wall_s)} load={statistics.median(loads):.1f}"
    )


if __name__ == "__main__":
    main()
