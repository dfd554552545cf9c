"""Command-line helpers.

``python -m etl yesterday [--etl-timezone TZ]`` prints the last complete business day (for scripts);
``python -m etl backfill [--start A] [--stop B | --through C] [--of DailyReport] [luigi args]`` runs RangeDaily,
by default from ``[etl] start_date`` through yesterday (see :mod:`etl.backfill`).
"""

from __future__ import annotations

import argparse
import datetime
import sys

from luigi.retcodes import retcode

from etl import clock
from etl.backfill import run_backfill, settings_with
from etl.config import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "yesterday", help="the last complete business day in [etl] timezone (YYYY-MM-DD); takes --etl-* settings"
    )
    backfill = commands.add_parser(
        "backfill",
        help="fill [start, stop) with RangeDaily; other arguments go to luigi "
        "(--local-scheduler, --workers 2, --days-per-task 7, --etl-base-dir DIR, ...)",
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
    if args.command == "yesterday" and any(not arg.startswith("--etl-") for arg in luigi_args[::2]):
        parser.error(f"unrecognized arguments: {' '.join(luigi_args)}")
    try:
        with settings_with(luigi_args) as settings:
            if args.command == "yesterday":
                print(clock.last_complete_day(settings.timezone).isoformat())
                return 0
            start = args.start or settings.start_date
            stop = (
                args.through + datetime.timedelta(days=1)
                if args.through
                else args.stop or clock.today(settings.timezone)
            )
    except SettingsError as error:
        print(f"python -m etl: error: {error}", file=sys.stderr)
        return retcode().scheduling_error
    except SystemExit as refused:  # argparse's one-line error on a bad --section-option value
        return int(refused.code or 0)
    return run_backfill(args.of, start, stop, luigi_args)


if __name__ == "__main__":
    sys.exit(main())
