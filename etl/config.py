"""Settings, one ``luigi.Config`` section per concern, read from ``luigi.cfg``, and the run's snapshot of them.

Every parameter is overridable on the command line the Luigi way (``--etl-base-dir DIR``,
``--retention-raw-days 14``, ...). Every value is checked where it is read: a bad value on the
command line stops the command at once with argparse's one-line error naming the flag; one in a
config file is named, with its section, before any work (:func:`load_run_settings`).
"""

from __future__ import annotations

import argparse
import codecs
import configparser
import datetime
import json
import math
import os
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import luigi
from luigi.cmdline_parser import CmdlineParser
from luigi.configuration import LuigiConfigParser, get_config

from etl.csv_io import ORDER_COLUMNS
from etl.ingest import EPOCH_FORMATS, MAPPABLE_COLUMNS
from etl.retention import WEEKDAYS, RetentionConfigError, parse_weekdays
from etl.storage.s3_options import S3Options

PACKAGE_DEFAULTS = Path(__file__).with_name("luigi_defaults.cfg")
BASE_DIR_ENV = "ETL_BASE_DIR"


class SettingsError(ValueError):
    """A setting or parameter has a value the pipeline cannot work with."""


class FixedParams:
    """Mixin for a Luigi task or config class: its parameter list is computed once.

    Luigi lists a class's parameters with ``dir()`` on every instantiation, before its instance cache
    can answer; a range instantiates thousands of tasks. The list is fixed once the class is defined.
    """

    @classmethod
    def get_params(cls) -> list[tuple[str, luigi.Parameter]]:
        if "_fixed_params" not in cls.__dict__:
            cls._fixed_params = super().get_params()
        return cls._fixed_params

    @classmethod
    def get_param_values(cls, params, args, kwargs):
        """Luigi's answer, fast when every parameter is given by name but those of the run (how the pipeline makes
        its tasks): Luigi's instance cache asks this on every instantiation, and its general answer scans the config
        each time."""
        if not args and all(name in kwargs or isinstance(param, RunParameter) for name, param in params):
            return [(name, param.normalize(kwargs.get(name, ""))) for name, param in params]
        return super().get_param_values(params, args, kwargs)


class RunParameter(luigi.Parameter):
    """A parameter whose empty default stands for a value of the run's own, which ``normalize`` fills in from the
    run's settings: a task made without it (as the pipeline makes its tasks) names the run it belongs to."""

    def __init__(self, **kwargs) -> None:
        super().__init__(default="", positional=False, **kwargs)


class Checked:
    """Mixin for a Luigi parameter: its value is checked when parsed, with a message saying what is allowed.

    On the command line the check runs inside argparse, so ``--date 2024-02-30`` fails at once with
    ``argument --date: '2024-02-30' is not ...`` and exit status 2, before any task exists.
    """

    def __init__(self, *args, allowed: str, check: Callable[[object], bool] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.allowed = allowed
        self.check = check

    def parse(self, text):
        try:
            value = super().parse(text)
        except (ValueError, TypeError, OverflowError):
            value, ok = None, False
        else:
            ok = self.check is None or self.check(value)
        if not ok:
            raise ValueError(f"{text!r} is not {self.allowed}")
        return value

    def _parser_kwargs(self, param_name, task_name=None):
        kwargs = super()._parser_kwargs(param_name, task_name)

        def checked(text: str) -> str:
            try:
                self.parse(text)
            except ValueError as error:
                raise argparse.ArgumentTypeError(str(error)) from None
            return text

        return {**kwargs, "type": checked}


def _is_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _is_column_map(text: str) -> bool:
    try:
        mapping = json.loads(text)
    except ValueError:
        return False
    return isinstance(mapping, dict) and all(
        isinstance(k, str) and isinstance(v, str) and (v in MAPPABLE_COLUMNS or v == "") for k, v in mapping.items()
    )


def _is_column_defaults(text: str) -> bool:
    try:
        values = json.loads(text)
    except ValueError:
        return False
    return isinstance(values, dict) and all(
        name in ORDER_COLUMNS
        and isinstance(value, str | int | float)
        and not isinstance(value, bool)
        and (not isinstance(value, float) or math.isfinite(value))
        for name, value in values.items()
    )


def _is_text_list(text: str) -> bool:
    try:
        values = json.loads(text)
    except ValueError:
        return False
    return isinstance(values, list) and all(isinstance(value, str) for value in values)


def _is_timestamp_format(text: str) -> bool:
    """Empty (ISO 8601), an epoch unit, or a strptime pattern that reads back what it writes."""
    if text in ("", *EPOCH_FORMATS):
        return True
    if "%" not in text:
        return False
    moment = datetime.datetime(2024, 11, 23, 21, 4, 5, tzinfo=datetime.UTC)
    try:
        return datetime.datetime.strptime(moment.strftime(text), text) is not None
    except ValueError:
        return False


def _is_encoding(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _is_weekdays(text: str) -> bool:
    try:
        parse_weekdays(text)
    except RetentionConfigError:
        return False
    return True


class DayParameter(Checked, luigi.DateParameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, allowed="a calendar day (YYYY-MM-DD)", **kwargs)


class WholeNumberParameter(Checked, luigi.IntParameter):
    def __init__(self, *args, minimum: int, **kwargs) -> None:
        super().__init__(*args, allowed=f"a whole number of at least {minimum}", check=lambda v: v >= minimum, **kwargs)


class NumberParameter(Checked, luigi.FloatParameter):
    def __init__(self, *args, low: float, high: float | None = None, **kwargs) -> None:
        allowed = f"a number from {low} to {high}" if high is not None else f"a finite number of at least {low}"
        upper = high if high is not None else math.inf
        super().__init__(*args, allowed=allowed, check=lambda v: low <= v < math.inf and v <= upper, **kwargs)


class TimezoneParameter(Checked, luigi.Parameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(
            *args, allowed="an IANA timezone (for example UTC, Europe/Berlin)", check=_is_timezone, **kwargs
        )


class SwitchParameter(Checked, luigi.BoolParameter):
    """``true`` or ``false``, given as a value (``--etl-depends-on-past true``) like every other setting; the flag alone
    is true."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, allowed="true or false", parsing=luigi.BoolParameter.EXPLICIT_PARSING, **kwargs)


class WeekdaysParameter(Checked, luigi.Parameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, allowed=f"a comma-separated list of {','.join(WEEKDAYS)}", check=_is_weekdays, **kwargs)


class ChoiceParameter(Checked, luigi.Parameter):
    def __init__(self, *args, choices: tuple[str, ...], **kwargs) -> None:
        named = ", ".join(choice if choice.isidentifier() else repr(choice) for choice in choices)
        super().__init__(*args, allowed=f"one of {named}", check=lambda v: v in choices, **kwargs)


class ColumnMapParameter(Checked, luigi.Parameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(
            *args, allowed="a JSON object of column names to canonical names", check=_is_column_map, **kwargs
        )


class DelimiterParameter(Checked, luigi.Parameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, allowed="one character (\\t for a tab)", check=lambda v: len(v) == 1, **kwargs)

    def parse(self, text):
        return super().parse("\t" if text == "\\t" else text)


class ColumnDefaultsParameter(Checked, luigi.Parameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(
            *args,
            allowed=f"a JSON object of canonical columns ({', '.join(ORDER_COLUMNS)}) to a text or finite number",
            check=_is_column_defaults,
            **kwargs,
        )


class TextListParameter(Checked, luigi.Parameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(
            *args, allowed='a JSON list of texts, e.g. ["cancelled", "failed"]', check=_is_text_list, **kwargs
        )


class TimestampFormatParameter(Checked, luigi.Parameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(
            *args,
            allowed=f"empty (ISO 8601), {' or '.join(EPOCH_FORMATS)}, or a strptime pattern such as %m/%d/%Y %I:%M %p",
            check=_is_timestamp_format,
            **kwargs,
        )


class OptionalTimezoneParameter(Checked, luigi.Parameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(
            *args,
            allowed="empty ([etl] timezone) or an IANA timezone (for example UTC, America/New_York)",
            check=lambda name: name == "" or _is_timezone(name),
            **kwargs,
        )


class EncodingParameter(Checked, luigi.Parameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(
            *args, allowed="a text encoding Python knows (utf-8, latin-1, cp1252, ...)", check=_is_encoding, **kwargs
        )


class WebhookUrlParameter(Checked, luigi.Parameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, allowed="empty or an http:// or https:// URL", check=_is_webhook_url, **kwargs)


def _is_webhook_url(text: str) -> bool:
    parts = urllib.parse.urlsplit(text)
    return text == "" or (parts.scheme in ("http", "https") and bool(parts.hostname))


class NameParameter(Checked, luigi.Parameter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(
            *args,
            allowed="a name of letters, digits, '.', '_' and '-'",
            check=lambda name: re.fullmatch(r"[A-Za-z0-9._-]+", name) is not None,
            **kwargs,
        )


class Settings(FixedParams, luigi.Config):
    """A config section; the pipeline reads all of them at once into :class:`etl.run_settings.RunSettings`."""


class etl(Settings):  # noqa: N801 - the class name is the config section and CLI prefix
    """Where the pipeline keeps its partitions and which calendar it follows."""

    base_dir = luigi.Parameter(
        default="data",
        description="Base directory of the raw/, processed/, metrics/ and cleanup/ layers. A relative path is "
        "relative to the directory of the config file that sets it (to the working directory when given on the "
        f"command line or in {BASE_DIR_ENV}). {BASE_DIR_ENV} overrides luigi.cfg; --etl-base-dir overrides both.",
    )
    start_date = DayParameter(
        default=datetime.date(2024, 1, 1),
        description="First day of the pipeline: nothing is built, and no rolling window reaches, before it.",
    )
    timezone = TimezoneParameter(
        default="UTC",
        description="IANA timezone of the business day; a day is processed only once it is over there.",
    )
    source = ChoiceParameter(
        default="synthetic",
        choices=("synthetic", "landing"),
        description="Where orders come from: synthetic (generated, reproducible per day) or landing (export files).",
    )
    pipeline = NameParameter(
        default="etl",
        description="The pipeline's name; with the base directory it is in every task's id (etl@/srv/etl), so that "
        "one luigid serves several pipelines and never hands one's tasks to another.",
    )
    rebuild_stale = SwitchParameter(
        default=False,
        description="Also rebuild days built under other settings (etl rerun --stale sets it): by default a changed "
        "setting is shown by etl status and the days keep what they were built with.",
    )
    depends_on_past = SwitchParameter(
        default=False,
        description="Whether a day's report also requires the previous day's report (Airflow's depends_on_past): a "
        "failed day then holds back every later report until it is fixed.",
    )
    scratch_dir = luigi.Parameter(
        default="",
        description="Local directory where a run sets data aside for itself (the ingest's spill), in a private "
        "folder removed after; never the store, even on object storage. Empty: the system's temporary directory.",
    )


class generation(Settings):  # noqa: N801
    """Shape and dirt of the synthetic order source."""

    seed = WholeNumberParameter(default=42, minimum=0, description="Base seed; each day derives its own from it.")
    mean_orders_per_day = WholeNumberParameter(default=200, minimum=1, description="Mean daily order volume.")
    yearly_growth = NumberParameter(default=0.10, low=-0.99, description="Slow trend: volume growth per year.")
    customers = WholeNumberParameter(default=5000, minimum=1, description="Size of the customer pool.")
    duplicate_rate = NumberParameter(default=0.02, low=0.0, high=1.0, description="Share of rows duplicated.")
    negative_rate = NumberParameter(default=0.01, low=0.0, high=1.0, description="Share of rows with a sign error.")
    null_rate = NumberParameter(default=0.005, low=0.0, high=1.0, description="Share of nulls in optional columns.")


class validation(Settings):  # noqa: N801
    """Thresholds of the quality gate between raw and processed data."""

    min_orders = WholeNumberParameter(default=50, minimum=0, description="Fewest orders a valid day may have.")
    max_quantity = WholeNumberParameter(
        default=1000, minimum=1, description="Largest quantity a landed row may have; a larger one is refused."
    )
    max_unit_price = NumberParameter(
        default=100000.0, low=0.0, description="Largest unit price a landed row may have; a larger one is refused."
    )
    max_rejected_share = NumberParameter(
        default=0.01, low=0.0, high=1.0, description="Share of a day's landed rows that may be refused; more fails it."
    )


class landing(Settings):  # noqa: N801
    """Where the shop's order exports land, and how they are read ([etl] source = landing)."""

    directory = luigi.Parameter(
        default="landing",
        description="Directory of the export files, subdirectories included. A relative path is relative to the "
        "directory of the config file that sets it (to the working directory when given on the command line).",
    )
    pattern = luigi.Parameter(
        default="*.csv,*.csv.gz", description="Comma-separated file name patterns; a name ending in .gz is gzip."
    )
    column_map = ColumnMapParameter(
        default="{}",
        description='JSON object from export column name to canonical name, e.g. {"OrderID": "order_id"}; '
        '"" drops a column whose own name is canonical.',
    )
    delimiter = DelimiterParameter(default=",", description="The field delimiter, one character (\\t for a tab).")
    encoding = EncodingParameter(default="utf-8", description="Text encoding; a UTF-8 byte-order mark is accepted.")
    rows = ChoiceParameter(
        default="orders",
        choices=("orders", "line_items"),
        description="What a row is: an order, or a line item (rows that share an order_id are one order).",
    )
    version_column = luigi.Parameter(
        default="",
        description="Export column whose largest value marks an order's latest version (a number or a timestamp); "
        "empty: the version ingested last wins.",
    )
    negative_amounts = ChoiceParameter(
        default="refund",
        choices=("refund", "sign_error"),
        description="What a row with a negative amount is: a refund (not an order, never sign-changed) or a sign "
        "error (made positive, the synthetic source's rule).",
    )
    source_timezone = OptionalTimezoneParameter(
        default="", description="IANA timezone of the export's naive timestamps; empty: [etl] timezone."
    )
    timestamp_format = TimestampFormatParameter(
        default="",
        description="How order_timestamp is written: empty for ISO 8601, epoch_s or epoch_ms, or a strptime pattern.",
    )
    decimal = ChoiceParameter(default=".", choices=(".", ","), description="The decimal mark of numbers.")
    thousands = ChoiceParameter(
        default="",
        choices=("", ",", ".", "space", "'"),
        description="The thousands separator of numbers: empty for none, or one of , . space '",
    )
    defaults = ColumnDefaultsParameter(
        default="{}",
        description='Values of canonical columns the export does not have or leaves blank, e.g. {"quantity": 1}.',
    )


class revenue(Settings):  # noqa: N801
    """What counts as revenue."""

    excluded_statuses = TextListParameter(
        default='["cancelled", "canceled", "failed", "refunded", "returned", "voided"]',
        description="Order statuses (compared without case) left out of net revenue.",
    )


class rolling(Settings):  # noqa: N801
    """The rolling window of the metrics layer."""

    window_days = WholeNumberParameter(
        default=7, minimum=1, description="Days in the window, ending at and including the date."
    )


class report(Settings):  # noqa: N801
    """How the daily report judges the trend."""

    trend_threshold = NumberParameter(
        default=0.05,
        low=0.0,
        description="Revenue growth vs the window average beyond which the trend is growing or declining.",
    )


class retention(Settings):  # noqa: N801
    """How long each layer keeps a partition, counted back from the day a cleanup runs as of."""

    raw_days = WholeNumberParameter(default=7, minimum=1, description="Days of raw partitions kept.")
    processed_days = WholeNumberParameter(
        default=30, minimum=1, description="Days of processed partitions kept; at least [rolling] window_days."
    )
    metrics_days = WholeNumberParameter(default=90, minimum=1, description="Days of metrics partitions kept.")
    cleanup_weekdays = WeekdaysParameter(
        default="mon,tue,wed,thu,fri,sat,sun",
        description="Weekdays on which cleanup removes partitions (e.g. 'sun', as the seed did).",
    )


class s3(Settings):  # noqa: N801
    """How an ``s3://`` base directory or landing directory is reached. An empty value leaves it to the standard
    AWS places (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, ``~/.aws/config`` profiles); a value set here wins."""

    endpoint_url = luigi.Parameter(
        default="",
        description="URL of an S3-compatible service (MinIO, Ceph RGW, ...), e.g. http://minio.internal:9000; "
        "empty: AWS_ENDPOINT_URL, else AWS itself.",
    )
    region = luigi.Parameter(default="", description="The bucket's region; empty: AWS_DEFAULT_REGION or the profile's.")
    addressing_style = ChoiceParameter(
        default="",
        choices=("", "auto", "path", "virtual"),
        description="How a bucket is named in requests: path (http://host/bucket/key, what MinIO and Ceph usually "
        "need), virtual (http://bucket.host/key) or auto; empty: botocore's choice.",
    )
    max_attempts = WholeNumberParameter(
        default=S3Options.max_attempts,
        minimum=1,
        description="Attempts per request, the first included, before a throttled, failing (5xx) or timed-out "
        "request is an error; botocore waits with backoff between them.",
    )
    connect_timeout_seconds = NumberParameter(
        low=0.1,
        default=S3Options.connect_timeout_seconds,
        description="Seconds to open a connection to the endpoint before the attempt counts as timed out.",
    )
    read_timeout_seconds = NumberParameter(
        low=0.1,
        default=S3Options.read_timeout_seconds,
        description="Seconds without a byte of a response before the attempt counts as timed out (not a limit on "
        "a whole object's transfer).",
    )


class alerts(Settings):  # noqa: N801
    """Where an alert goes besides Luigi's mail ([email]/[smtp]), how long it may take, and whether a run that
    succeeded sends one (etl.alerts)."""

    webhook_url = WebhookUrlParameter(
        default="",
        description='URL that receives each alert as Slack\'s JSON ({"text": ...}): a Slack, Mattermost or Rocket.Chat '
        "incoming webhook, or any HTTP endpoint; empty: no webhook.",
    )
    on_success = SwitchParameter(
        default=False,
        description="Also alert when etl backfill (the cron wrapper's run) or etl rerun succeeds: one line, days done, "
        "skipped (already done) and failed.",
    )
    timeout_seconds = NumberParameter(
        default=5.0,
        low=0.1,
        description="Longest wait for the webhook; past it, or when it fails, the run goes on after one warning line.",
    )


SECTIONS = (etl, generation, validation, rolling, report, retention, landing, revenue, s3, alerts)


def install_package_defaults() -> None:
    """Put the package's Luigi defaults first on Luigi's config path, so they hold from any directory.

    The user's ``luigi.cfg`` (and ``LUIGI_CONFIG_PATH``) are read after them and win.
    """
    paths = LuigiConfigParser._config_paths
    if str(PACKAGE_DEFAULTS) not in paths:
        paths.insert(0, str(PACKAGE_DEFAULTS))
        LuigiConfigParser.reload()


def read_sections() -> dict[str, dict[str, object]]:
    """Every setting's value, parsed and checked, by section; a bad one raises SettingsError naming it."""
    return {section.__name__: read_section(section) for section in SECTIONS}


def read_section(section: type[Settings]) -> dict[str, object]:
    """One section's values, parsed and checked; a bad one raises SettingsError naming it."""
    name = section.__name__
    values: dict[str, object] = {}
    for option, parameter in section.get_params():
        try:
            values[option] = parameter.task_value(name, option)
        except ValueError as error:
            flag = f"--{name}-{option.replace('_', '-')}"
            raise SettingsError(f"setting [{name}] {option} ({flag}): {error}") from None
    return values


class SettingsSource:
    """What the settings are read from in this process: the command line being run, every option of every
    section in the config files, the config files themselves, the environment's base directory and the
    working directory. ``unchanged()`` is cheap: it compares live objects with a copy taken once."""

    def __init__(self) -> None:
        self.parser = CmdlineParser.get_instance()
        sections = get_config()._sections  # the parsed files as plain dicts
        self.sections = {section.__name__: dict(sections.get(section.__name__, {})) for section in SECTIONS}
        self.paths = list(LuigiConfigParser._config_paths)
        self.environment = os.environ.get(BASE_DIR_ENV)
        self.cwd = os.getcwd()

    def unchanged(self) -> bool:
        sections = get_config()._sections
        return (
            CmdlineParser.get_instance() is self.parser
            and all(sections.get(name, {}) == options for name, options in self.sections.items())
            and LuigiConfigParser._config_paths == self.paths
            and os.environ.get(BASE_DIR_ENV) == self.environment
            and os.getcwd() == self.cwd
        )


def base_dir_and_origin(configured: str) -> tuple[str, str]:
    """The absolute base directory and where its value came from (a flag, the environment or a config file).

    A relative value from a config file is relative to that file's directory, so cron jobs started in
    another directory write to the same tree; from the command line or the environment, to the working one.
    """
    if os.environ.get(BASE_DIR_ENV) and _flag("etl", "base_dir") is None:
        return _absolute(os.environ[BASE_DIR_ENV], os.getcwd()), BASE_DIR_ENV
    return path_and_origin("etl", "base_dir", configured)


def path_and_origin(section: str, option: str, configured: str) -> tuple[str, str]:
    """A directory setting made absolute, and where its value came from: relative to the working directory
    when given on the command line or by default, to the directory of the config file that set it otherwise."""
    if _flag(section, option) is not None:
        return _absolute(configured, os.getcwd()), f"--{section}-{option.replace('_', '-')}"
    source = _config_file_setting(section, option)
    if source is None:
        return _absolute(configured, os.getcwd()), "the default"
    return _absolute(configured, str(Path(source).parent)), source


def _flag(section: str, option: str) -> str | None:
    parser = CmdlineParser.get_instance()
    return getattr(parser.known_args, f"{section}_{option}", None) if parser else None


def _config_file_setting(section: str, option: str) -> str | None:
    """The last config file on Luigi's path that sets ``[section] option`` (the one whose value Luigi uses)."""
    found = None
    for path in LuigiConfigParser._config_paths:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            read = parser.read(path)
        except configparser.Error:
            continue
        if read and parser.has_option(section, option):
            found = os.path.abspath(path)
    return found


def _absolute(path: str, relative_to: str) -> str:
    if "://" in path:
        return path  # a URL: the store refuses it with a message of its own
    return os.path.normpath(os.path.join(relative_to, os.path.expanduser(path)))
