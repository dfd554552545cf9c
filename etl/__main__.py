"""Command-line helpers.

``python -m etl yesterday`` prints the last complete business day (for scripts);
``python -m etl backfill [--start A] [--stop B] [--of DailyReport] [--chunk-days 31] [--parallel 2] [luigi args]``
fills a long range in chunks (see :mod:`etl.backfill`); by default from ``[etl] start_date`` through yesterday.
"""

from __future__ import annotations

import argparse
import datetime
import sys

from etl import clock
from etl.backfill import run_backfill
from etl.config import etl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("yesterday", help="the last complete business day in [etl] timezone (YYYY-MM-DD)")
    backfill = commands.add_parser(
        "backfill",
        help="fill [start, stop) with RangeDaily in chunks; other arguments go to luigi "
        "(--local-scheduler, --workers 2, --etl-base-dir DIR, ...)",
    )
    backfill.add_argument("--of", default="DailyReport", help="the daily task to complete (default DailyReport)")
    backfill.add_argument(
        "--start", type=datetime.date.fromisoformat, help="first day, inclusive (default: [etl] start_date)"
    )
    end = backfill.add_mutually_exclusive_group()
    end.add_argument(
        "--stop",
        type=datetime.date.fromisoformat,
        help="last day, EXCLUSIVE as in RangeDaily (default: today in [etl] timezone, so through yesterday)",
    )
    end.add_argument("--through", type=datetime.date.fromisoformat, help="last day, inclusive")
    backfill.add_argument("--chunk-days", type=int, default=31, help="days per RangeDaily run (default 31)")
    backfill.add_argument(
        "--parallel", type=int, default=1, help="processes for the per-day work (default 1; use 2 on 2 cores)"
    )
    args, luigi_args = parser.parse_known_args(argv)
    if args.command == "yesterday":
        if luigi_args:
            parser.error(f"unrecognized arguments: {' '.join(luigi_args)}")
        print(clock.last_complete_day(etl().timezone).isoformat())
        return 0
    settings = etl()
    start = args.start or settings.start_date
    if args.through:
        stop = args.through + datetime.timedelta(days=1)
    else:
        stop = args.stop or clock.today(settings.timezone)
    return run_backfill(args.of, start, stop, args.chunk_days, luigi_args, args.parallel)


if __name__ == "__main__":
    sys.exit(main())
