"""The settings of one run as plain values, read and checked once, before any work.

Tasks and steps receive a :class:`RunSettings`; nothing below reads Luigi's config again. The snapshot is
kept while the command line, the config and the environment stay the same, and read anew when they
change, so a task never writes to a base directory the configuration no longer names.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import posixpath

from etl.config import SettingsError, SettingsSource, base_dir_and_origin, path_and_origin, read_sections
from etl.generation import GenerationSettings
from etl.landing import LandingSettings
from etl.retention import RetentionPolicy, parse_weekdays
from etl.storage import S3Options, Store, UnsupportedStoreError, open_store

logger = logging.getLogger("luigi-interface")
S3 = "s3://"
# Where things are and how a run goes, not what shapes the data: left out of reports.
NOT_SHAPING = ("base_dir", "directory", "rebuild_stale", "depends_on_past", "pipeline", "scratch_dir")
# How the store is reached and where alerts go: a report does not change because an endpoint moved.
NOT_SHAPING_SECTIONS = ("s3", "alerts")


@dataclasses.dataclass(frozen=True, eq=False)
class RunSettings:
    """Every setting a step needs, checked against each other."""

    pipeline: str  # the name of [etl] pipeline
    store: Store
    start_date: datetime.date
    timezone: str
    source: str
    depends_on_past: bool  # a day's report waits for the previous day's
    generation: GenerationSettings
    min_orders: int
    max_rejected_share: float
    landing: LandingSettings  # read only when source is landing
    negative_amounts: str  # refund or sign_error: what processing makes of a negative amount
    excluded_statuses: tuple[str, ...]  # lower case: statuses left out of net revenue
    window_days: int
    rebuild_stale: bool  # a day built under other settings is rebuilt, not kept
    trend_threshold: float
    retention: RetentionPolicy
    report_config: dict[str, dict[str, object]]  # what shapes the data, for the report's run metadata
    s3: S3Options = S3Options()  # how s3:// stores and landing areas are reached (the [s3] section)

    @property
    def identity(self) -> str:
        return pipeline_identity(self.pipeline, self.store)


def pipeline_identity(name: str, store: Store) -> str:
    """``<[etl] pipeline>@<store>``: what every task's id carries, so that runs of two pipelines, or of one pipeline
    on two stores, never share a task on a luigid, while runs of one pipeline under other settings do (its
    completion marks tell those apart)."""
    return f"{name}@{store.describe()}"


_kept: tuple[SettingsSource, RunSettings] | None = None
_named: tuple[SettingsSource, str] | None = None


def identity() -> str:
    """This run's :func:`pipeline_identity`, read without the other settings and kept while the configuration is
    unchanged: a root task names its pipeline while Luigi parses the command line, before it sets up its logging,
    and the settings' own load (which logs the base directory) comes later. SettingsError when a setting is bad."""
    global _named
    if _named is None or not _named[0].unchanged():
        source = SettingsSource()
        values = read_sections()
        store, _ = configured_store(values)
        _named = (source, pipeline_identity(values["etl"]["pipeline"], store))
    return _named[1]


def current() -> RunSettings:
    """The settings in force: read once per command line and configuration, checked, then kept."""
    global _kept
    if _kept is None or not _kept[0].unchanged():
        source = SettingsSource()
        try:
            _kept = (source, load_run_settings())
        except SettingsError as error:
            logger.error("etl: %s", error)
            raise
    return _kept[1]


def load_run_settings() -> RunSettings:
    """Read every section, check each value and their combinations; SettingsError names the first problem."""
    values = read_sections()
    store, origin = configured_store(values)
    kept = values["retention"]
    window_days = values["rolling"]["window_days"]
    if kept["processed_days"] < window_days:
        raise SettingsError(
            f"setting [retention] processed_days={kept['processed_days']} is shorter than [rolling] "
            f"window_days={window_days}: cleanup would delete days the rolling metrics still read; "
            f"use at least {window_days}"
        )
    source = values["etl"]["source"]
    landing = landing_settings(values)
    if source == "landing":
        check_landing_apart(landing.directory, store.describe())
    logger.info("etl: base directory %s (from %s)", store.describe(), origin)
    return RunSettings(
        pipeline=values["etl"]["pipeline"],
        store=store,
        start_date=values["etl"]["start_date"],
        timezone=values["etl"]["timezone"],
        source=source,
        depends_on_past=values["etl"]["depends_on_past"],
        generation=GenerationSettings(**values["generation"]),
        min_orders=values["validation"]["min_orders"],
        max_rejected_share=values["validation"]["max_rejected_share"],
        landing=landing,
        negative_amounts=landing.negative_amounts if source == "landing" else "sign_error",
        excluded_statuses=tuple(status.lower() for status in json.loads(values["revenue"]["excluded_statuses"])),
        window_days=window_days,
        rebuild_stale=values["etl"]["rebuild_stale"],
        trend_threshold=values["report"]["trend_threshold"],
        retention=RetentionPolicy(
            raw_days=kept["raw_days"],
            processed_days=kept["processed_days"],
            metrics_days=kept["metrics_days"],
            weekdays=parse_weekdays(kept["cleanup_weekdays"]),
        ),
        report_config={
            section: {option: _plain(value) for option, value in options.items() if option not in NOT_SHAPING}
            for section, options in values.items()
            if section not in NOT_SHAPING_SECTIONS
        },
        s3=s3_options(values),
    )


def configured_store(values: dict[str, dict[str, object]]) -> tuple[Store, str]:
    """The store ``[etl] base_dir`` names, and where that value came from (a flag, the environment or a file)."""
    base_dir, origin = base_dir_and_origin(values["etl"]["base_dir"])
    try:
        return open_store(base_dir, s3_options(values)), origin
    except UnsupportedStoreError as error:
        raise SettingsError(f"setting [etl] base_dir: {error}") from None


def s3_options(values: dict[str, dict[str, object]]) -> S3Options:
    """The ``[s3]`` section as the S3 store takes it."""
    return S3Options(**values["s3"])


def landing_settings(values: dict[str, dict[str, object]]) -> LandingSettings:
    """The ``[landing]`` section and the row limits of ``[validation]``, as the landing source reads them."""
    section = values["landing"]
    directory, _ = path_and_origin("landing", "directory", section["directory"])
    thousands = " " if section["thousands"] == "space" else section["thousands"]
    if thousands == section["decimal"]:
        raise SettingsError(
            f"settings [landing] decimal and thousands are both {thousands!r}: a number cannot use one mark for both"
        )
    return LandingSettings(
        directory=directory,
        patterns=tuple(p.strip() for p in section["pattern"].split(",") if p.strip()),
        column_map=json.loads(section["column_map"]),
        delimiter=section["delimiter"],
        encoding=section["encoding"],
        max_quantity=values["validation"]["max_quantity"],
        max_unit_price=values["validation"]["max_unit_price"],
        max_rejected_share=values["validation"]["max_rejected_share"],
        rows=section["rows"],
        negative_amounts=section["negative_amounts"],
        version_column=section["version_column"],
        source_timezone=section["source_timezone"] or values["etl"]["timezone"],
        timestamp_format=section["timestamp_format"],
        decimal=section["decimal"],
        thousands=thousands,
        defaults={name: str(value) for name, value in json.loads(section["defaults"]).items()},
        scratch_dir=path_and_origin("etl", "scratch_dir", values["etl"]["scratch_dir"])[0]
        if values["etl"]["scratch_dir"]
        else None,
    )


def check_landing_apart(directory: str, base_dir: str) -> None:
    """Refuse a landing directory that is, holds or lies inside the base directory: the ingest would read the
    pipeline's own files, or the pipeline write among the shop's exports. Two ``s3://`` locations are compared by
    bucket and prefix, segment by segment; a bucket and a local directory never overlap."""
    if directory.startswith(S3) and base_dir.startswith(S3):
        landing, base = (posixpath.normpath("/" + url.removeprefix(S3)) for url in (directory, base_dir))
    elif "://" in base_dir or "://" in directory:
        return
    else:
        landing, base = os.path.realpath(directory), os.path.realpath(base_dir)
    if posixpath.commonpath([landing, base]) in (landing, base):
        raise SettingsError(
            f"setting [landing] directory {directory} and [etl] base_dir {base_dir} overlap: the landing directory "
            "must be neither the base directory, nor inside it, nor hold it"
        )


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime.date) else value
