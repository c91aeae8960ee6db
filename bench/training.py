"""starcast's search against scikit-learn's own searches; `starcast train` on small data.

1. The search, in this process, on the bundled real sample, over the candidates of one budget and
   the same K folds: starcast's successive halving as a one-machine run does it (a local process
   pool, no Ray) against sklearn's HalvingGridSearchCV (same factor, first rung of the same
   training rows, `n_jobs=-1`), and GridSearchCV (every candidate on every fold) for the best
   score. A second starcast line runs the same search on a local Ray (the cluster path a RayJob
   takes, with Ray's start on one machine). Every time includes its side's start-up and
   shutdown: the pool's start and stop, Ray's init and shutdown, a fresh joblib process pool for
   each sklearn search. starcast, halving and starcast on Ray run in alternating rounds (medians
   reported), the exhaustive search once. The score gap compares the candidate each search
   picked, scored the same way (mean fold RMSE on log1p(stars), from the exhaustive search's own
   results).
2. Small data: `starcast train`, from the command to the written artifact, on 1,000 repositories
   drawn from the sample, against bench/sklearn_train.py (the same search with sklearn, refit
   and written) on the same rows, and `starcast train --executor ray`; all as whole processes,
   in alternating rounds.

RAY_ADDRESS is ignored: this measures one machine. The machine's load average is printed with
each figure; ratios are the comparable numbers.

    python -m bench.training [--quick] [--budget standard] [--folds 5] [--search-rounds 2]
        [--small-rounds 3]

Last line: `training: starcast_s=... sklearn_s=... time_ratio=... halving_s=... halving_ratio=...
starcast_rmsle=... sklearn_rmsle=... halving_rmsle=... score_gap_pct=... small_data_s=...
small_data_sklearn_s=... small_data_ratio=... small_data_cpu_s=... small_data_sklearn_cpu_s=...
ray_starcast_s=... ray_halving_ratio=... ray_small_data_s=... ray_small_data_ratio=...
ray_init_s=... load=...` (time_ratio is starcast over GridSearchCV, halving_ratio starcast over
HalvingGridSearchCV, the ray_ keys the same on a local Ray; goals: halving_ratio <= 0.5,
score_gap_pct <= 1, small_data_ratio <= 2 and small_data_s < 20 on idle cores. CPU seconds count
only processes that were waited for: Ray's daemons may escape them).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import psutil
import ray
from joblib.externals.loky import get_reusable_executor
from sklearn.model_selection import GridSearchCV

from bench.sklearn_train import CandidateRegressor, halving_search
from starcast.dataset import read_dataset
from starcast.features import feature_names
from starcast.sample import sample_dataset_path, sample_dataset_uri
from starcast.training.config import Budget
from starcast.training.executors import ExecutorChoice, open_executor
from starcast.training.families import candidates
from starcast.training.ray_runtime import ensure_ray
from starcast.training.search import SearchResult, make_folds, run_search

SMALL_DATA_ROWS = 1000


def load() -> float:
    return os.getloadavg()[0]


def timed(label: str, work: Callable[[], Any]) -> tuple[float, Any]:
    load_before = load()
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.1f}s (load {load_before:.1f} -> {load():.1f})")
    return seconds, result


def fresh_joblib_pool() -> None:
    """Stop joblib's reusable worker pool: the next search pays its start-up, as a user's does."""
    get_reusable_executor().shutdown(wait=True)


# What each process Ray starts is for, and whether a run on one machine uses it.
RAY_PROCESSES: Final = (
    ("gcs_server", "cluster state (needed)"),
    ("raylet", "scheduler and object store (needed)"),
    ("ray::IDLE", "task workers (needed)"),
    ("dashboard/dashboard.py", "API server, started even with include_dashboard=False (unused)"),
    ("ray::DashboardAgent", "metrics agent; the raylet waits for it to register (unused)"),
    ("ray::RuntimeEnvAgent", "runtime environments (unused: no runtime_env)"),
    ("autoscaler/_private/monitor.py", "autoscaler (unused on one machine)"),
    ("log_monitor.py", "forwards worker logs (unused: log_to_driver=False)"),
)


def ray_startup_anatomy() -> float:
    """Start Ray as a run does, wait until it is idle, and print the CPU each process used."""
    load_before = load()
    started = time.perf_counter()
    ensure_ray()
    init_s = time.perf_counter() - started
    time.sleep(2)  # let the prestarted workers finish importing
    cpu: dict[str, float] = {}
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
            times = child.cpu_times()
        except psutil.Error:
            continue
        name = next((key for key, _ in RAY_PROCESSES if key in command), command[:40])
        cpu[name] = cpu.get(name, 0.0) + times.user + times.system
    ray.shutdown()
    print(
        f"0. Ray start-up as `starcast train --executor ray` does it: {init_s:.1f}s "
        f"(load {load_before:.1f}); a one-machine run skips it"
    )
    purposes = dict(RAY_PROCESSES)
    for name, seconds in sorted(cpu.items(), key=lambda item: -item[1]):
        print(f"  {seconds:5.2f} CPU s  {name}: {purposes.get(name, '?')}")
    unused = sum(seconds for name, seconds in cpu.items() if "(unused" in purposes.get(name, ""))
    total = sum(cpu.values())
    print(f"  {unused:.2f} of {total:.2f} CPU s go to processes a one-machine run never uses")
    return init_s


def search_comparison(args: argparse.Namespace, folds_k: int, rounds: int) -> dict[str, float]:
    dataset = read_dataset(sample_dataset_uri())
    names = [
        n
        for n in feature_names(include_leaky=False)
        if n not in dataset.report.unavailable_features
    ]
    features = dataset.features[names]
    log_stars = np.log1p(dataset.stars)
    folds = make_folds(len(features), folds_k, args.seed)
    space = candidates(args.budget)
    print(
        f"1. search: {len(features)} repositories, {len(names)} features, {len(space)} "
        f"candidates ({args.budget} budget), {folds_k} folds, {os.cpu_count()} CPUs"
    )

    def starcast_search(choice: ExecutorChoice) -> SearchResult:
        # The executor's start and stop are counted, as `starcast train` pays them.
        with open_executor(choice) as executor:
            print(f"    starcast on {executor.description}")
            return run_search(features, log_stars, space, folds, seed=args.seed, executor=executor)

    def halving() -> Any:
        fresh_joblib_pool()
        return halving_search(space, features, log_stars, folds, seed=args.seed, refit=False)

    def grid() -> Any:
        fresh_joblib_pool()
        return GridSearchCV(
            CandidateRegressor(space=space, seed=args.seed),
            {"index": list(range(len(space)))},
            scoring="neg_root_mean_squared_error",
            cv=folds,
            n_jobs=-1,
            refit=False,
        ).fit(features, log_stars)

    # Alternating rounds: the load other work puts on a shared machine changes within minutes,
    # and a median of turns is fair to each.
    starcast_times: list[float] = []
    halving_times: list[float] = []
    ray_times: list[float] = []
    for round_ in range(rounds):
        seconds, starcast_result = timed(
            f"round {round_ + 1} starcast (pool start + successive halving + pool stop)",
            partial(starcast_search, ExecutorChoice.LOCAL),
        )
        starcast_times.append(seconds)
        seconds, halving_result = timed(
            f"round {round_ + 1} sklearn HalvingGridSearchCV(n_jobs=-1)", halving
        )
        halving_times.append(seconds)
        seconds, ray_result = timed(
            f"round {round_ + 1} starcast on Ray (Ray init + successive halving + shutdown)",
            partial(starcast_search, ExecutorChoice.RAY),
        )
        ray_times.append(seconds)
        if ray_result.winner.candidate != starcast_result.winner.candidate:
            raise SystemExit("starcast picked different winners on Ray and on the local pool")
        print(
            f"    round {round_ + 1}: starcast {starcast_times[-1] / halving_times[-1]:.2f}x "
            f"halving, on Ray {seconds / halving_times[-1]:.2f}x"
        )
    starcast_s, halving_s = statistics.median(starcast_times), statistics.median(halving_times)
    sklearn_s, grid_result = timed("sklearn GridSearchCV(n_jobs=-1)", grid)
    fits = sum(len(folds) for _ in starcast_result.trials)
    print(
        f"  fold fits: starcast {fits}, halving "
        f"{sum(halving_result.n_candidates_) * folds_k}, grid {len(space) * folds_k}"
    )

    mean_fold_rmse = -np.asarray(grid_result.cv_results_["mean_test_score"])
    picks = {
        "starcast": space.index(starcast_result.winner.candidate),
        "halving": int(halving_result.best_params_["index"]),
        "grid": int(grid_result.best_index_),
    }
    for name, pick in picks.items():
        print(f"  {name:<8} picked {space[pick].label} (RMSLE {mean_fold_rmse[pick]:.4f})")
    rmsle = {name: float(mean_fold_rmse[pick]) for name, pick in picks.items()}
    return {
        "starcast_s": starcast_s,
        "ray_starcast_s": statistics.median(ray_times),
        "sklearn_s": sklearn_s,
        "halving_s": halving_s,
        "starcast_rmsle": rmsle["starcast"],
        "sklearn_rmsle": rmsle["grid"],
        "halving_rmsle": rmsle["halving"],
    }


def run_process(argv: list[str], env: dict[str, str]) -> float:
    """Run a whole process; the CPU seconds (user + system) it and its waited-for children used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {completed.returncode}:\n{completed.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def small_dataset(directory: Path, seed: int) -> str:
    """SMALL_DATA_ROWS records of the bundled sample, in the same format."""
    sample = pd.read_parquet(sample_dataset_path())
    small = sample.sample(n=SMALL_DATA_ROWS, random_state=seed)
    path = directory / "small.parquet"
    small.to_parquet(path, index=False)
    return path.as_uri()


def small_data_comparison(args: argparse.Namespace, rounds: int) -> dict[str, float]:
    print(
        f"2. small data: {SMALL_DATA_ROWS} repositories, whole processes, {rounds} alternating "
        "round(s)"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("RAY_ADDRESS", "STARCAST_TRAINING_EXECUTOR")
    }
    labels = ("starcast train", "sklearn script", "starcast train --executor ray")
    times: dict[str, list[float]] = {label: [] for label in labels}
    cpu: dict[str, list[float]] = {label: [] for label in labels}
    with tempfile.TemporaryDirectory(prefix="starcast-bench-") as tmp:
        directory = Path(tmp)
        data_uri = small_dataset(directory, args.seed)
        for round_ in range(rounds):
            out = directory / f"starcast-{round_}"
            starcast_argv = [
                *(sys.executable, "-m", "starcast", "train"),
                *("--data", data_uri, "--out", out.as_uri(), "--seed", str(args.seed)),
            ]
            sklearn_argv = [
                *(sys.executable, "-m", "bench.sklearn_train"),
                *("--data", data_uri, "--out", str(directory / f"sklearn-{round_}.skops")),
                *("--seed", str(args.seed)),
            ]
            ray_out = directory / f"starcast-ray-{round_}"
            ray_argv = [
                *(sys.executable, "-m", "starcast", "train", "--executor", "ray"),
                *("--data", data_uri, "--out", ray_out.as_uri(), "--seed", str(args.seed)),
            ]
            for label, argv in zip(labels, (starcast_argv, sklearn_argv, ray_argv), strict=True):
                seconds, cpu_s = timed(
                    f"round {round_ + 1} {label}", partial(run_process, argv, env)
                )
                print(f"    {cpu_s:.1f} CPU s in the processes it waited for")
                times[label].append(seconds)
                cpu[label].append(cpu_s)
            for written in (out, ray_out):
                if not (written / "manifest.json").exists():
                    raise SystemExit(f"starcast train wrote no artifact at {written}")
    return {
        "small_data_s": statistics.median(times[labels[0]]),
        "small_data_sklearn_s": statistics.median(times[labels[1]]),
        "ray_small_data_s": statistics.median(times[labels[2]]),
        "small_data_cpu_s": statistics.median(cpu[labels[0]]),
        "small_data_sklearn_cpu_s": statistics.median(cpu[labels[1]]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 folds, 1 small-data round")
    parser.add_argument("--budget", type=Budget, default=Budget.STANDARD, choices=list(Budget))
    parser.add_argument("--folds", type=int, default=None, help="K of K-fold CV (default 5)")
    parser.add_argument(
        "--search-rounds",
        type=int,
        default=None,
        help="starcast/halving turns (default 2; quick: 1)",
    )
    parser.add_argument("--small-rounds", type=int, default=None, help="default 3 (quick: 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folds_k = args.folds or (3 if args.quick else 5)
    os.environ.pop("RAY_ADDRESS", None)  # one machine: the local pool, and a local Ray
    loads = [load()]

    ray_init_s = ray_startup_anatomy()
    figures = search_comparison(args, folds_k, args.search_rounds or (1 if args.quick else 2))
    loads.append(load())
    figures |= small_data_comparison(args, args.small_rounds or (1 if args.quick else 3))
    loads.append(load())

    halving_ratio = figures["starcast_s"] / figures["halving_s"]
    ray_halving_ratio = figures["ray_starcast_s"] / figures["halving_s"]
    small_ratio = figures["small_data_s"] / figures["small_data_sklearn_s"]
    ray_small_ratio = figures["ray_small_data_s"] / figures["small_data_sklearn_s"]
    exhaustive = figures["sklearn_rmsle"]
    gap_pct = 100 * (figures["starcast_rmsle"] - exhaustive) / exhaustive
    for goal, met in (
        (f"<= 0.5x HalvingGridSearchCV with start-up: {halving_ratio:.2f}x", halving_ratio <= 0.5),
        (f"best CV RMSLE within 1% of GridSearchCV's: {gap_pct:+.2f}%", gap_pct <= 1.0),
        (f"small data <= 2x the sklearn script: {small_ratio:.2f}x", small_ratio <= 2.0),
        (f"small data under 20 s: {figures['small_data_s']:.1f}s", figures["small_data_s"] < 20),
    ):
        print(f"goal {'met' if met else 'NOT met'}: {goal}")
    print(
        f"starcast on a local Ray (the cluster path): search {figures['ray_starcast_s']:.1f}s, "
        f"{ray_halving_ratio:.2f}x HalvingGridSearchCV; small data "
        f"{figures['ray_small_data_s']:.1f}s, {ray_small_ratio:.2f}x the sklearn script"
    )
    print(
        "training: "
        f"starcast_s={figures['starcast_s']:.1f} sklearn_s={figures['sklearn_s']:.1f} "
        f"time_ratio={figures['starcast_s'] / figures['sklearn_s']:.3f} "
        f"halving_s={figures['halving_s']:.1f} halving_ratio={halving_ratio:.3f} "
        f"starcast_rmsle={figures['starcast_rmsle']:.4f} "
        f"sklearn_rmsle={figures['sklearn_rmsle']:.4f} "
        f"halving_rmsle={figures['halving_rmsle']:.4f} score_gap_pct={gap_pct:.2f} "
        f"small_data_s={figures['small_data_s']:.1f} "
        f"small_data_sklearn_s={figures['small_data_sklearn_s']:.1f} "
        f"small_data_ratio={small_ratio:.3f} "
        f"small_data_cpu_s={figures['small_data_cpu_s']:.1f} "
        f"small_data_sklearn_cpu_s={figures['small_data_sklearn_cpu_s']:.1f} "
        f"ray_starcast_s={figures['ray_starcast_s']:.1f} "
        f"ray_halving_ratio={ray_halving_ratio:.3f} "
        f"ray_small_data_s={figures['ray_small_data_s']:.1f} "
        f"ray_small_data_ratio={ray_small_ratio:.3f} "
        f"ray_init_s={ray_init_s:.1f} "
        f"load={statistics.median(loads):.1f}"
    )


if __name__ == "__main__":
    main()
