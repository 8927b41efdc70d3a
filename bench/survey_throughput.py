"""Survey throughput (pairs per minute) on a LocalCluster of 1 and of 2 worker processes.

Generates (once, cached under bench/.data, git-ignored) N small before/after pairs and runs
``orbitscout.survey.survey`` over them into a fresh output folder per worker count, timing the
whole call (cluster start and shutdown included, printed apart).

    python bench/survey_throughput.py [--pairs 12] [--size 1024] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from find_vs_read import DATA, make_pair  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()

    from distributed import LocalCluster

    from orbitscout.survey import survey

    root = DATA / f"survey_{args.pairs}x{args.size}"
    lines = ["before,after,name"]
    for i in range(args.pairs):
        before, after = make_pair(root / f"p{i:03d}", args.size, args.size, seed=100 + i)
        lines.append(f"{before},{after},p{i:03d}")
    (root / "pairs.csv").write_text("\n".join(lines) + "\n")
    print(f"cores {os.cpu_count()}; {args.pairs} pairs of {args.size} x {args.size} px")
    print(f"{'workers':>7} {'start s':>8} {'survey s':>9} {'pairs/min':>10} {'ok':>4}")
    for n in args.workers:
        clock = time.perf_counter()
        with LocalCluster(n_workers=n, threads_per_worker=1, dashboard_address=None) as cluster:
            start = time.perf_counter() - clock
            cluster.close()
        with tempfile.TemporaryDirectory() as tmp:
            clock = time.perf_counter()
            result = survey(root / "pairs.csv", Path(tmp) / "out", workers=n)
            total = time.perf_counter() - clock
        print(
            f"{n:>7} {start:8.1f} {total:9.1f} {args.pairs / total * 60:10.1f} {result.ok:>4}",
            flush=True,
        )


if __name__ == "__main__":
    main()
