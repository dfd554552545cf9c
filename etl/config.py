"""Settings, one ``luigi.Config`` section per concern, read from ``luigi.cfg``.

Every parameter is overridable on the command line the Luigi way
(``--etl-base-dir DIR``, ``--retention-raw-days 14``, ...).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import luigi
from luigi.cmdline_parser import CmdlineParser
from luigi.configuration import LuigiConfigParser, get_config

PACKAGE_DEFAULTS = Path(__file__).with_name("luigi_defaults.cfg")
BASE_DIR_ENV = "ETL_BASE_DIR"


class FixedParams:
    """Mixin for a Luigi task or config class: its parameter list is computed once.

    Luigi lists a class's parameters with ``dir()`` on every instantiation, before its instance cache
    can answer, and on every ``get_params()`` (the report's effective config asks for each section's);
    a range instantiates thousands of tasks. The list is fixed once the class is defined.
    """

    @classmethod
    def get_params(cls) -> list[tuple[str, luigi.Parameter]]:
        if "_fixed_params" not in cls.__dict__:
            cls._fixed_params = super().get_params()
        return cls._fixed_params


class Settings(FixedParams, luigi.Config):
    """A config section; read it with ``current()``.

    Luigi re-reads and re-parses every option of a section each time it is instantiated (0.2 ms for
    ``etl``), and a day's tasks read settings a dozen times. ``current()`` is the instance Luigi would
    give, kept while the command line being run and the section's options in the config stay the same
    (environment variables interpolated into option values are read once per command line).
    """

    @classmethod
    def current(cls) -> Settings:
        config = get_config()
        options = tuple(config.items(cls.__name__, raw=True)) if config.has_section(cls.__name__) else ()
        key = (CmdlineParser.get_instance(), options)
        kept = cls.__dict__.get("_kept")
        if kept is None or kept[0] != key:
            kept = cls._kept = (key, cls())
        return kept[1]


class etl(Settings):  # noqa: N801 - the class name is the config section and CLI prefix
    """Where the pipeline keeps its partitions and which calendar it follows."""

    base_dir = luigi.Parameter(
        default="data",
        description="Base directory of the raw/, processed/ and metrics/ layers. "
        f"The environment variable {BASE_DIR_ENV} overrides luigi.cfg; --etl-base-dir overrides both.",
    )
    start_date = luigi.DateParameter(
        default=datetime.date(2024, 1, 1),
        description="First day of the pipeline: rolling windows and cleanup never reach before it.",
    )
    timezone = luigi.Parameter(
        default="UTC",
        description="IANA timezone of the business day; a day is processed only once it is over there.",
    )
    source = luigi.ChoiceParameter(
        default="synthetic",
        choices=["synthetic"],
        description="Where a day of orders comes from.",
    )


class generation(Settings):  # noqa: N801
    """Shape and dirt of the synthetic order source."""

    seed = luigi.IntParameter(default=42, description="Base seed; each day derives its own from it.")
    mean_orders_per_day = luigi.IntParameter(default=200, description="Mean daily order volume.")
    yearly_growth = luigi.FloatParameter(default=0.10, description="Slow trend: volume growth per year.")
    customers = luigi.IntParameter(default=5000, description="Size of the customer pool (repeat buyers).")
    duplicate_rate = luigi.FloatParameter(default=0.02, description="Share of rows duplicated.")
    negative_rate = luigi.FloatParameter(default=0.01, description="Share of rows with a sign error in quantity.")
    null_rate = luigi.FloatParameter(default=0.005, description="Share of nulls in non-critical columns.")


class validation(Settings):  # noqa: N801
    """Thresholds of the quality gate between raw and processed data."""

    min_orders = luigi.IntParameter(default=50, description="Fewest orders a valid day may have.")


class rolling(Settings):  # noqa: N801
    """The rolling window of the metrics layer."""

    window_days = luigi.IntParameter(default=7, description="Days in the window, ending at and including the date.")


class report(Settings):  # noqa: N801
    """How the daily report judges the trend."""

    trend_threshold = luigi.FloatParameter(
        default=0.05,
        description="Revenue growth vs the window average beyond which the trend is growing or declining.",
    )


class retention(Settings):  # noqa: N801
    """How long each layer keeps a partition, counted back from the task's date."""

    raw_days = luigi.IntParameter(default=7, description="Days of raw partitions kept.")
    processed_days = luigi.IntParameter(default=30, description="Days of processed partitions kept.")
    metrics_days = luigi.IntParameter(default=90, description="Days of metrics partitions kept.")
    cleanup_weekdays = luigi.Parameter(
        default="mon,tue,wed,thu,fri,sat,sun",
        description="Weekdays on which cleanup removes partitions (e.g. 'sun', as the seed did).",
    )


SECTIONS = (etl, generation, validation, rolling, report, retention)


def install_package_defaults() -> None:
    """Put the package's Luigi defaults first on Luigi's config path, so they hold from any directory.

    The user's ``luigi.cfg`` (and ``LUIGI_CONFIG_PATH``) are read after them and win;
    ``ETL_BASE_DIR`` then wins over files, and command-line flags over everything.
    """
    paths = LuigiConfigParser._config_paths
    if str(PACKAGE_DEFAULTS) not in paths:
        paths.insert(0, str(PACKAGE_DEFAULTS))
        LuigiConfigParser.reload()
    base_dir = os.environ.get(BASE_DIR_ENV)
    if base_dir:
        config = get_config()
        if not config.has_section("etl"):
            config.add_section("etl")
        config.set("etl", "base_dir", base_dir.replace("%", "%%"))


def effective_config() -> dict[str, dict[str, object]]:
    """Every setting that shapes the data, as plain JSON values, for the run metadata of a report.

    The base directory is left out: a report lives inside it, and a copied or moved tree stays identical.
    """
    result: dict[str, dict[str, object]] = {}
    for section in SECTIONS:
        instance = section.current()
        result[section.__name__] = {
            name: _plain(getattr(instance, name)) for name, _ in instance.get_params() if name != "base_dir"
        }
    return result


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime.date) else value
