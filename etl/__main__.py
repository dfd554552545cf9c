"""Helpers for shell scripts: ``python -m etl yesterday`` prints the last complete business day."""

from __future__ import annotations

import argparse

from etl import clock
from etl.config import etl


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m etl")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("yesterday", help="the last complete business day in [etl] timezone (YYYY-MM-DD)")
    parser.parse_args(argv)
    print(clock.last_complete_day(etl().timezone).isoformat())


if __name__ == "__main__":
    main()
