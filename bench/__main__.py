"""Every benchmark, one after the other: `python -m bench` (`--quick` for smaller runs)."""

from __future__ import annotations

import sys

from bench import (
    bench_api,
    bench_gateway,
    bench_producer,
    bench_scaleout,
    bench_worker,
    faults,
    soak,
)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    n = "20000" if quick else "100000"
    quick_worker = ["--events", n, "--enterprises", "2000", "--rss-events", "0"]
    failed = 0
    for name, bench, args in (
        ("producer library", bench_producer.main, ["--events", n]),
        ("ingest gateway", bench_gateway.main, ["--events", n]),
        ("read API", bench_api.main, ["--seconds", "3", "--publish-seconds", "3"] if quick else []),
        (
            "projection worker",
            bench_worker.main,
            [*quick_worker, "--rebuild-events", "200000"] if quick else [],
        ),
        ("scale-out", bench_scaleout.main, ["--events", "20000"] if quick else []),
        ("faults", faults.main, ["--kills", "3"] if quick else []),
        ("soak", soak.main, ["--rate", "500", "--minutes", "2" if quick else "5"]),
    ):
        print(f"\n== {name} ==", flush=True)
        failed += bench(args) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
