"""Command-line helpers.

``python -m etl yesterday`` prints the last complete business day (for scripts);
``python -m etl backfill [--start A] [--stop B | --through C] [--of DailyReport] [luigi args]`` runs RangeDaily,
by default from ``[etl] start_date`` through yesterday (see :mod:`etl.backfill`).
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
        help="fill [start, stop) with RangeDaily; other arguments go to luigi "
        "(--local-scheduler, --workers 2, --days-per-task 31, --etl-base-dir DIR, ...)",
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
    args, luigi_args = parser.parse_known_args(argv)
    if args.command == "yesterday":
        if luigi_args:
            parser.error(f"unrecognized arguments: {' '.join(luigi_args)}")
        print(clock.last_complete_day(etl.current().timezone).isoformat())
        return 0
    settings = etl.current()
    start = args.start or settings.start_date
    if args.through:
        stop = args.through + datetime.timedelta(days=1)
    else:
        stop = args.stop or clock.today(settings.timezone)
    return run_backfill(args.of, start, stop, luigi_args)


if __name__ == "__main__":
    sys.exit(main())
