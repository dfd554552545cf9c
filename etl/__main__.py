"""The ``etl`` command (installed by setup.py; ``python -m etl`` is the same command).

``python -m etl yesterday [--etl-timezone TZ]`` prints the last complete business day (for scripts);
``python -m etl backfill [--start A] [--stop B | --through C | --end C] [--of DailyReport] [luigi args]`` runs
RangeDaily, by default from ``[etl] start_date`` through yesterday (see :mod:`etl.backfill`);
``python -m etl cleanup [--as-of DAY] [--dry-run] [luigi args]`` applies retention, or lists what it would remove;
``etl status [--start D1] [--end D2] [--json]`` shows every day's state in every step, and why;
``etl rerun --start D1 [--end D2] [--from raw|processed|metrics] [--dry-run] [--failed] [--stale]`` rebuilds days;
``etl check-deadline [--day D]`` exits 0 when the day's report is done, else names the first step not done and
alerts as a failed run does (Luigi's ``[email]`` settings, ``[alerts] webhook_url``);
``etl dashboard [--start D1] [--end D2] --output FILE.png|FILE.html`` draws the days (see :mod:`etl.dashboard`);
``etl scheduler [luigi args]`` prints the luigid the configuration names (for scripts), exit 1 when none.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import warnings
from pathlib import Path

from luigi.retcodes import retcode

from etl import alerts, clock
from etl.backfill import run_backfill, run_luigi, settings_with
from etl.config import SettingsError
from etl.day_ranges import ONE_DAY
from etl.landing import LandingFileError
from etl.metrics import window_dates
from etl.query import MissingDaysWarning, load_summaries
from etl.rerun import ask, describe, plan_rerun, window_of
from etl.run_settings import RunSettings
from etl.scheduler_state import disabled_lines, scheduler_url, with_scheduler
from etl.state import HELD_BACK, DayState
from etl.status import STEPS, day_rows, first_not_done
from etl.status_view import exit_code, render, summary_lines
from etl.storage.layout import RETAINED_LAYERS
from etl.tasks import cleanup_plan


def command() -> int:
    """The ``etl`` console script."""
    return main(prog="etl")


def main(argv: list[str] | None = None, prog: str = "python -m etl") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Operate the daily orders pipeline.")
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
    end.add_argument("--through", "--end", type=datetime.date.fromisoformat, help="last day, inclusive")
    cleanup = commands.add_parser(
        "cleanup",
        help="apply the retention policy as of a day (CleanupOldPartitions); other arguments go to luigi",
    )
    cleanup.add_argument(
        "--as-of", type=datetime.date.fromisoformat, help="the day (default: yesterday in [etl] timezone)"
    )
    cleanup.add_argument(
        "--dry-run", action="store_true", help="list what would be removed, remove nothing; exit 1 if anything would go"
    )
    status = commands.add_parser(
        "status",
        help="every day's state in every step, and why; exit 0 when every day is done or expired, else 1; "
        "takes --section-option settings",
    )
    day_options(status, start="[etl] start_date", end="yesterday in [etl] timezone")
    status.add_argument("--json", action="store_true", help="one JSON object a day, for scripts")
    deadline = commands.add_parser(
        "check-deadline",
        help="exit 0 when the day's report is done; else 1, naming the first step not done and why, and alert it "
        "as a failed run does (Luigi's [email] settings, [alerts] webhook_url)",
    )
    deadline.add_argument(
        "--day", type=datetime.date.fromisoformat, help="the business day (default: yesterday in [etl] timezone)"
    )
    rerun = commands.add_parser(
        "rerun",
        help="rebuild days from a layer down (what reads them follows where their bytes change); the outputs stay "
        "readable until replaced; other arguments go to luigi",
    )
    day_options(rerun, start=None, end="--start")
    rerun.add_argument(
        "--from",
        dest="first_layer",
        choices=RETAINED_LAYERS,
        default="processed",
        help="the first layer rebuilt (default processed; raw reads the source again)",
    )
    rerun.add_argument("--dry-run", action="store_true", help="print the partitions it would rebuild; change nothing")
    rerun.add_argument("--failed", action="store_true", help="only the days of the range that failed or are held back")
    rerun.add_argument(
        "--stale", action="store_true", help="only the stale days, also those built under other settings"
    )
    rerun.add_argument(
        "--include-expired", action="store_true", help="also days retention retired (taken out of its ledger first)"
    )
    dashboard = commands.add_parser(
        "dashboard",
        help="FILE.png: a chart of daily revenue with its rolling average and daily orders, days without figures "
        "marked; FILE.html: one self-contained page with that chart, each day's state in each step and the daily "
        "summaries; takes --section-option settings; needs the dashboard extra (matplotlib)",
    )
    day_options(dashboard, start="[etl] start_date", end="yesterday in [etl] timezone")
    dashboard.add_argument("--output", required=True, type=Path, help="the file to write: .png or .html")
    commands.add_parser(
        "scheduler",
        help="the luigid the configuration names, as luigi finds it without --local-scheduler (for scripts); "
        "exit 1 when none is named; takes luigi arguments",
    )
    args, luigi_args = parser.parse_known_args(argv)
    if args.command == "yesterday" and any(not arg.startswith("--etl-") for arg in luigi_args[::2]):
        parser.error(f"unrecognized arguments: {' '.join(luigi_args)}")
    try:
        with settings_with(luigi_args) as settings:
            scheduler = scheduler_url(luigi_args)
            if args.command == "yesterday":
                print(clock.last_complete_day(settings.timezone).isoformat())
                return 0
            if args.command == "scheduler":
                return print_scheduler(scheduler)
            if args.command == "status":
                return show_status(parser, args, settings, scheduler)
            if args.command == "dashboard":
                return write_dashboard(parser, args, settings, scheduler)
            if args.command == "check-deadline":
                return check_deadline(settings, args.day or clock.last_complete_day(settings.timezone), scheduler)
            if args.command == "rerun":
                asked = ask_for_rerun(parser, args, settings)
                if asked is None:
                    return 0
                start, stop, rerun_args = asked
                luigi_args, args.of = [*luigi_args, *rerun_args], "DailyReport"
            if args.command == "cleanup":
                as_of = args.as_of or clock.last_complete_day(settings.timezone)
                if args.dry_run:
                    return print_cleanup_plan(settings, as_of)
                command = ["CleanupOldPartitions", f"--date={as_of}", *luigi_args]
            elif args.command == "backfill":
                start = args.start or settings.start_date
                stop = args.through + ONE_DAY if args.through else args.stop or clock.today(settings.timezone)
    except SettingsError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return retcode().scheduling_error
    except (LandingFileError, FileNotFoundError) as error:  # a rerun from raw whose landing files are gone
        print(f"{prog}: error: {error}", file=sys.stderr)
        return retcode().missing_data
    except SystemExit as refused:  # argparse's one-line error on a bad --section-option value
        return int(refused.code or 0)
    if args.command == "cleanup":
        return run_luigi(command)
    code = run_backfill(args.of, start, stop, luigi_args, name=args.command)
    if code == retcode().not_run:  # Luigi's summary does not say that luigid disabled a task the range needs
        for line in disabled_lines(scheduler, settings.identity, start, stop):
            print(line, file=sys.stderr)
    return code


def day_options(parser: argparse.ArgumentParser, start: str | None, end: str) -> None:
    """``--start`` and ``--end``, both inclusive (``etl``'s own day options), with their defaults named; no
    ``start`` default makes ``--start`` required."""
    parser.add_argument(
        "--start",
        type=datetime.date.fromisoformat,
        required=start is None,
        help="first day, inclusive" + (f" (default: {start})" if start else ""),
    )
    parser.add_argument("--end", type=datetime.date.fromisoformat, help=f"last day, inclusive (default: {end})")


def show_status(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: RunSettings, scheduler) -> int:
    """Print each day's state in each step (the luigid's running and disabled tasks over the store's states);
    0 when every day is done or expired."""
    rows = with_scheduler(day_rows(settings, *asked_days(parser, args, settings)), scheduler, settings.identity)
    print(render(rows, list(STEPS), args.json))
    return exit_code(rows)


def asked_days(
    parser: argparse.ArgumentParser, args: argparse.Namespace, settings: RunSettings
) -> tuple[datetime.date, datetime.date]:
    """``[start, stop)`` of ``--start`` and ``--end``, by default ``[etl] start_date`` through yesterday."""
    start = args.start or settings.start_date
    end = args.end or clock.last_complete_day(settings.timezone)
    if start < settings.start_date or end < start:
        parser.error(f"--start {start} --end {end}: need [etl] start_date {settings.start_date} <= start <= end")
    return start, end + ONE_DAY


def write_dashboard(
    parser: argparse.ArgumentParser, args: argparse.Namespace, settings: RunSettings, scheduler: str | None
) -> int:
    """Write the chart (.png) or the page (.html) of the days asked for, from their states and summaries (the
    summaries from the first window's first day on, for the rolling average), whole or not at all."""
    kind = args.output.suffix.lower()
    if kind not in (".png", ".html"):
        parser.error(f"--output {args.output}: the name must end in .png (the chart) or .html (the page)")
    start, stop = asked_days(parser, args, settings)
    try:
        from etl import dashboard
    except ImportError as error:
        print(
            f"{parser.prog}: error: etl dashboard needs matplotlib ({error}): pip install 'etl[dashboard]'",
            file=sys.stderr,
        )
        return 1
    rows = with_scheduler(day_rows(settings, start, stop), scheduler, settings.identity)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDaysWarning)  # what each day without figures is, the output shows
        summaries = load_summaries(window_dates(start, settings.window_days, settings.start_date)[0], stop - ONE_DAY)
    days, window = [row.day for row in rows], settings.window_days
    averages = dashboard.rolling_averages(summaries, days, window, settings.start_date)
    content = dashboard.chart_png(rows, summaries, averages, window)
    if kind == ".html":
        title = f"Orders {start} to {stop - ONE_DAY}: {settings.identity}"
        content = dashboard.page_html(title, rows, summaries, averages, content, window).encode()
    partial = args.output.with_name(f".{args.output.name}.{os.getpid()}.tmp")
    partial.write_bytes(content)
    partial.replace(args.output)
    print(f"{parser.prog}: wrote {args.output}: {summary_lines(rows)[-1]}")
    return 0


def ask_for_rerun(
    parser: argparse.ArgumentParser, args: argparse.Namespace, settings: RunSettings
) -> tuple[datetime.date, datetime.date, list[str]] | None:
    """Print what a rerun rebuilds and, unless a dry run or there is nothing, ask for it; the range to run and the
    luigi arguments that name the rerun (None: nothing to run)."""
    end = args.end or args.start
    if args.start < settings.start_date or end < args.start or end >= clock.today(settings.timezone):
        parser.error(
            f"--start {args.start} --end {end}: need [etl] start_date {settings.start_date} <= start <= end, and end "
            "a day that is over"
        )
    plan = plan_rerun(settings, args.start, end, args.first_layer, args.failed, args.stale, args.include_expired)
    print("\n".join(describe(settings, plan)) or f"nothing to rerun in {args.start}..{end}")
    if args.dry_run or not plan.steps:
        return None
    request = ask(settings, plan, args.include_expired)
    start = min(window_of(plan.steps)) if args.include_expired else min(plan.steps)
    stop = min(max([*plan.steps, *plan.following]) + ONE_DAY, clock.today(settings.timezone))
    return start, stop, [f"--rerun={request}", *(["--etl-rebuild-stale=true"] if args.stale else [])]


def check_deadline(settings: RunSettings, day: datetime.date, scheduler: str | None = None) -> int:
    """0 when ``day``'s report is done (silent unless on a terminal); else 1, with one line naming the first step
    not done and why (running or disabled, asked of the ``scheduler`` luigid), alerted as a failure is (Luigi's
    ``[email]`` settings, ``[alerts] webhook_url``; nothing is sent when neither is set)."""
    (row,) = with_scheduler(day_rows(settings, day, day + ONE_DAY), scheduler, settings.identity)
    late = first_not_done(row)
    if late is None:
        if sys.stdout.isatty():  # a person asking; under cron, output would be mailed every morning
            print(f"etl check-deadline: the report of {day} is done")
        return 0
    step, status = late
    reason = status.reason or ""
    if status.state == DayState.HELD_BACK.value:  # "rolling is held back: validation failed for ...", said once
        reason = reason.removeprefix(HELD_BACK)
    line = f"etl check-deadline: the report of {day} is not done: {step} is {status.state}" + (
        f": {reason}" if reason else ""
    )
    print(line)
    alerts.send(alerts.Alert(f"Luigi: etl: the report of {day} is not done", line))
    return 1


def print_scheduler(url: str | None) -> int:
    """The luigid's URL and 0, or 1 and a line on stderr when none is configured (the cron wrapper then runs a
    local scheduler)."""
    if url is None:
        print("etl scheduler: none configured ([core] scheduler_url, scheduler_host, scheduler_port)", file=sys.stderr)
        return 1
    print(url)
    return 0


def print_cleanup_plan(settings: RunSettings, as_of: datetime.date) -> int:
    """Each partition a cleanup as of ``as_of`` would remove, one a line; 1 when there is any, else 0."""
    plan = cleanup_plan(settings, as_of)
    for layer, days in plan.items():
        for day in days:
            print(settings.store.partition_location(layer, day))
    count = sum(len(days) for days in plan.values())
    print(f"cleanup as of {as_of} would remove {count} partitions (dry run: nothing removed)", file=sys.stderr)
    return 1 if count else 0


if __name__ == "__main__":
    sys.exit(main())
