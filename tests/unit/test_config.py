"""Settings: each checked parameter refuses a bad value saying what is allowed, on the command line and in config
files, and the base directory is resolved against where its value came from."""

from __future__ import annotations

import datetime
import os

import pytest
from luigi.cmdline_parser import CmdlineParser
from luigi.configuration import LuigiConfigParser

from etl.config import (
    BASE_DIR_ENV,
    ChoiceParameter,
    DayParameter,
    NumberParameter,
    SettingsError,
    TimezoneParameter,
    WeekdaysParameter,
    WholeNumberParameter,
    base_dir_and_origin,
    read_sections,
)
from etl.run_settings import check_landing_apart, load_run_settings
from etl.storage import S3Options

D = datetime.date


# the parameter classes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("2024-02-29", D(2024, 2, 29)), ("1999-12-31", D(1999, 12, 31))])
def test_day_parameter_parses_calendar_days(text, expected):
    assert DayParameter().parse(text) == expected


@pytest.mark.parametrize("text", ["2024-02-30", "2023-02-29", "2024-13-01", "yesterday", "", "2024/01/01", "20240101"])
def test_day_parameter_refuses_what_is_not_a_calendar_day(text):
    with pytest.raises(ValueError) as raised:
        DayParameter().parse(text)
    assert str(raised.value) == f"{text!r} is not a calendar day (YYYY-MM-DD)"


def test_whole_number_parameter_checks_the_minimum():
    parameter = WholeNumberParameter(minimum=1)
    assert parameter.parse("1") == 1
    assert parameter.parse("5000") == 5000
    for text in ("0", "-3"):
        with pytest.raises(ValueError, match=f"^'{text}' is not a whole number of at least 1$"):
            parameter.parse(text)
    assert WholeNumberParameter(minimum=0).parse("0") == 0


@pytest.mark.parametrize("text", ["1.5", "abc", "", "1e3", "seven"])
def test_whole_number_parameter_refuses_what_is_not_a_whole_number(text):
    with pytest.raises(ValueError, match="is not a whole number of at least 0"):
        WholeNumberParameter(minimum=0).parse(text)


def test_number_parameter_checks_its_bounds():
    rate = NumberParameter(low=0.0, high=1.0)
    assert rate.parse("0") == 0.0
    assert rate.parse("1") == 1.0
    assert rate.parse("0.25") == 0.25
    for text in ("-0.01", "1.01", "abc", "", "nan"):
        with pytest.raises(ValueError, match=f"^'{text}' is not a number from 0.0 to 1.0$"):
            rate.parse(text)
    growth = NumberParameter(low=-0.99)
    assert growth.parse("-0.99") == -0.99
    assert growth.parse("3") == 3.0
    for text in ("-1", "nan"):
        with pytest.raises(ValueError, match=f"^'{text}' is not a finite number of at least -0.99$"):
            growth.parse(text)


@pytest.mark.parametrize("text", ["inf", "1e400"])
def test_number_parameter_refuses_infinity(text):
    with pytest.raises(ValueError):
        NumberParameter(low=0.0).parse(text)


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/New_York", "Pacific/Kiritimati"])
def test_timezone_parameter_accepts_iana_names(name):
    assert TimezoneParameter().parse(name) == name


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "Europe/", "../../etc/passwd", "CEST+2"])
def test_timezone_parameter_refuses_other_names(name):
    with pytest.raises(ValueError, match=r"is not an IANA timezone \(for example UTC, Europe/Berlin\)"):
        TimezoneParameter().parse(name)


def test_weekdays_parameter_keeps_the_text_and_refuses_unknown_days():
    assert WeekdaysParameter().parse("sat,sun") == "sat,sun"
    with pytest.raises(ValueError, match="is not a comma-separated list of mon,tue,wed,thu,fri,sat,sun"):
        WeekdaysParameter().parse("funday")


def test_choice_parameter_accepts_only_its_choices():
    parameter = ChoiceParameter(choices=("synthetic", "api"))
    assert parameter.parse("api") == "api"
    with pytest.raises(ValueError, match="^'s3' is not one of synthetic, api$"):
        parameter.parse("s3")
    with pytest.raises(ValueError, match="^';' is not one of '', ',', '.', space$"):
        ChoiceParameter(choices=("", ",", ".", "space")).parse(";")


def test_a_bad_value_on_the_command_line_stops_argparse_naming_the_flag(capsys):
    with pytest.raises(SystemExit) as raised, CmdlineParser.global_instance(["DailyReport", "--date", "2024-02-30"]):
        pass
    assert raised.value.code == 2
    assert "argument --date: '2024-02-30' is not a calendar day (YYYY-MM-DD)" in capsys.readouterr().err


def test_a_bad_setting_on_the_command_line_stops_argparse_naming_the_flag(capsys):
    args = ["DailyReport", "--date", "2024-02-01", "--retention-raw-days", "0"]
    with pytest.raises(SystemExit) as raised, CmdlineParser.global_instance(args):
        pass
    assert raised.value.code == 2
    assert "argument --retention-raw-days: '0' is not a whole number of at least 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "expected"),
    [([], False), (["--etl-depends-on-past", "true"], True), (["--etl-depends-on-past", "false"], False),
     (["--etl-depends-on-past"], True)],
)  # fmt: skip
def test_a_switch_takes_true_or_false_like_every_setting_and_alone_means_true(flag, expected):
    with CmdlineParser.global_instance(["DailyReport", "--date", "2024-02-29", *flag]):
        assert read_sections()["etl"]["depends_on_past"] is expected


def test_good_values_on_the_command_line_reach_the_task():
    with CmdlineParser.global_instance(["DailyReport", "--date", "2024-02-29"]) as parser:
        assert parser.get_task_obj().date == D(2024, 2, 29)


# read_sections --------------------------------------------------------------------------------------------


def test_read_sections_gives_parsed_values(configure, base_dir):
    configure({"generation": {"seed": "7", "null_rate": "0.25"}, "retention": {"cleanup_weekdays": "sun"}})
    values = read_sections()
    assert list(values) == [
        "etl", "generation", "validation", "rolling", "report", "retention", "landing", "revenue", "s3", "alerts"
    ]  # fmt: skip
    assert values["etl"]["base_dir"] == str(base_dir)
    assert values["generation"]["seed"] == 7
    assert values["generation"]["null_rate"] == 0.25
    assert values["generation"]["mean_orders_per_day"] == 80, "the test suite's small days"
    assert values["retention"]["cleanup_weekdays"] == "sun"
    assert isinstance(values["etl"]["start_date"], datetime.date)


@pytest.mark.parametrize(
    ("section", "option", "value", "message"),
    [
        ("generation", "mean_orders_per_day", "0", "'0' is not a whole number of at least 1"),
        ("generation", "duplicate_rate", "1.5", "'1.5' is not a number from 0.0 to 1.0"),
        ("etl", "start_date", "2024-02-30", "'2024-02-30' is not a calendar day (YYYY-MM-DD)"),
        ("etl", "timezone", "Mars/Olympus_Mons", "'Mars/Olympus_Mons' is not an IANA timezone"),
        ("etl", "source", "s3", "'s3' is not one of synthetic, landing"),
        ("etl", "depends_on_past", "yes", "'yes' is not true or false"),
        ("landing", "column_map", '{"OrderID": "id"}', '\'{"OrderID": "id"}\' is not a JSON object of column names'),
        ("landing", "delimiter", ";;", "';;' is not one character"),
        ("landing", "encoding", "klingon", "'klingon' is not a text encoding Python knows"),
        ("landing", "column_map", '{"Amount": "line_totals"}', '\'{"Amount": "line_totals"}\' is not a JSON object'),
        ("landing", "rows", "lines", "'lines' is not one of orders, line_items"),
        ("landing", "negative_amounts", "ignore", "'ignore' is not one of refund, sign_error"),
        ("landing", "source_timezone", "PST8PDT9", "'PST8PDT9' is not empty ([etl] timezone) or an IANA timezone"),
        ("landing", "timestamp_format", "MM/DD/YYYY", "'MM/DD/YYYY' is not empty (ISO 8601), epoch_s or epoch_ms"),
        ("landing", "timestamp_format", "%%Q", "'%Q' is not empty (ISO 8601)"),  # %% in a config file
        ("landing", "decimal", ";", "';' is not one of '.', ','"),
        ("landing", "thousands", "_", "'_' is not one of '', ',', '.', space, \"'\""),
        ("landing", "defaults", '{"qty": 1}', "'{\"qty\": 1}' is not a JSON object of canonical columns"),
        ("landing", "defaults", '{"quantity": true}', "'{\"quantity\": true}' is not a JSON object of canonical"),
        ("revenue", "excluded_statuses", "cancelled", "'cancelled' is not a JSON list of texts"),
        ("validation", "max_rejected_share", "2", "'2' is not a number from 0.0 to 1.0"),
        ("rolling", "window_days", "a week", "'a week' is not a whole number of at least 1"),
        ("retention", "cleanup_weekdays", "sundays", "'sundays' is not a comma-separated list"),
        ("s3", "addressing_style", "host", "'host' is not one of '', auto, path, virtual"),
        ("s3", "max_attempts", "0", "'0' is not a whole number of at least 1"),
    ],
)
def test_read_sections_names_the_section_option_and_flag_of_a_bad_value(configure, section, option, value, message):
    configure({section: {option: value}})
    flag = f"--{section}-{option.replace('_', '-')}"
    with pytest.raises(SettingsError) as raised:
        read_sections()
    assert str(raised.value).startswith(f"setting [{section}] {option} ({flag}): {message}")
    assert isinstance(raised.value, ValueError)


def test_new_landing_settings_are_read_into_plain_values(configure, base_dir, tmp_path):
    configure({
        "etl": {"source": "landing", "timezone": "Europe/Berlin"},
        "landing": {"directory": str(tmp_path / "exports"), "thousands": "space", "decimal": ",",
                    "defaults": '{"quantity": 1, "status": "paid"}', "rows": "line_items"},
        "revenue": {"excluded_statuses": '["Failed", "VOIDED"]'},
    })  # fmt: skip
    settings = load_run_settings()
    assert (settings.landing.thousands, settings.landing.decimal) == (" ", ",")
    assert settings.landing.defaults == {"quantity": "1", "status": "paid"}
    assert settings.landing.source_timezone == "Europe/Berlin", "naive export times default to the business zone"
    assert settings.landing.rows == "line_items"
    assert settings.excluded_statuses == ("failed", "voided")
    assert settings.negative_amounts == "refund", "the landing source's default"
    configure({"etl": {"source": "synthetic"}})
    assert load_run_settings().negative_amounts == "sign_error", "the synthetic source keeps the seed's rule"


def test_the_s3_section_reaches_the_store_options_and_stays_out_of_reports(configure):
    assert load_run_settings().s3 == S3Options(), "empty values: the standard AWS places decide"
    configure({"s3": {"endpoint_url": "http://minio.internal:9000", "region": "eu-west-3", "addressing_style": "path",
                      "max_attempts": "9", "connect_timeout_seconds": "2.5",
                      "read_timeout_seconds": "30"}})  # fmt: skip
    settings = load_run_settings()
    assert settings.s3 == S3Options("http://minio.internal:9000", "eu-west-3", "path", 9, 2.5, 30.0)
    assert "s3" not in settings.report_config, "a report does not change because an endpoint moved"


def test_one_mark_for_decimals_and_thousands_is_refused(configure):
    configure({"landing": {"decimal": ",", "thousands": ","}})
    with pytest.raises(SettingsError, match=r"\[landing\] decimal and thousands are both ','"):
        load_run_settings()


@pytest.mark.parametrize("where", ["same", "inside", "holds"])
def test_a_landing_directory_overlapping_the_base_directory_is_refused(configure, base_dir, where):
    landing = {"same": base_dir, "inside": base_dir / "exports", "holds": base_dir.parent}[where]
    configure({"etl": {"source": "landing"}, "landing": {"directory": str(landing)}})
    with pytest.raises(SettingsError, match="overlap: the landing directory must be neither"):
        load_run_settings()
    configure({"etl": {"source": "synthetic"}})
    assert load_run_settings().source == "synthetic", "only the landing source reads it"


@pytest.mark.parametrize(
    ("landing", "base"),
    [
        ("s3://shop/etl", "s3://shop/etl/"),
        ("s3://shop/etl/landing", "s3://shop/etl"),
        ("s3://shop", "s3://shop/etl"),
        ("s3://shop/exports/", "s3://shop/exports/etl"),
    ],
)
def test_s3_locations_where_one_holds_the_other_are_refused(landing, base):
    with pytest.raises(SettingsError, match=f"setting \\[landing\\] directory {landing} and \\[etl\\] base_dir {base}"):
        check_landing_apart(landing, base)


@pytest.mark.parametrize(
    ("landing", "base"),
    [
        ("s3://shop/landing", "s3://shop/etl"),
        ("s3://shop/etl-exports", "s3://shop/etl"),  # a prefix of the name, not of the path
        ("s3://exports/etl", "s3://etl/etl"),
        ("s3://shop/etl", "/srv/etl"),
    ],
)
def test_s3_locations_apart_are_accepted(landing, base):
    check_landing_apart(landing, base)


# base_dir_and_origin --------------------------------------------------------------------------------------


@pytest.fixture
def no_config_files(monkeypatch):
    """Luigi's config path without any file that sets [etl] base_dir, and no base directory in the environment."""
    monkeypatch.setattr(LuigiConfigParser, "_config_paths", [])
    monkeypatch.delenv(BASE_DIR_ENV, raising=False)


def test_a_relative_default_is_relative_to_the_working_directory(no_config_files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert base_dir_and_origin("data") == (str(tmp_path / "data"), "the default")
    assert base_dir_and_origin("/srv/orders/") == ("/srv/orders", "the default")


def test_a_relative_value_in_a_config_file_is_relative_to_that_file(no_config_files, tmp_path, monkeypatch):
    config_dir = tmp_path / "etc" / "pipeline"
    config_dir.mkdir(parents=True)
    config = config_dir / "luigi.cfg"
    config.write_text("[etl]\nbase_dir = ../data\n")
    other = tmp_path / "other.cfg"
    other.write_text("[generation]\nseed = 3\n")  # a later file that does not set base_dir
    monkeypatch.setattr(LuigiConfigParser, "_config_paths", [str(config), str(other), str(tmp_path / "absent.cfg")])
    monkeypatch.chdir(tmp_path / "etc")

    assert base_dir_and_origin("../data") == (str(tmp_path / "etc" / "data"), str(config))


def test_the_last_config_file_setting_base_dir_is_its_origin(no_config_files, tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    for directory in (first, second):
        directory.mkdir()
        (directory / "luigi.cfg").write_text("[etl]\nbase_dir = data\n")
    monkeypatch.setattr(LuigiConfigParser, "_config_paths", [str(first / "luigi.cfg"), str(second / "luigi.cfg")])
    assert base_dir_and_origin("data") == (str(second / "data"), str(second / "luigi.cfg"))


def test_the_environment_overrides_config_files_and_is_relative_to_the_working_directory(
    no_config_files, tmp_path, monkeypatch
):
    config = tmp_path / "luigi.cfg"
    config.write_text("[etl]\nbase_dir = from-file\n")
    monkeypatch.setattr(LuigiConfigParser, "_config_paths", [str(config)])
    monkeypatch.setenv(BASE_DIR_ENV, "from-env")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert base_dir_and_origin("from-file") == (str(work / "from-env"), BASE_DIR_ENV)


def test_the_home_directory_is_expanded(no_config_files, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv(BASE_DIR_ENV, "~/orders")
    assert base_dir_and_origin("data") == (str(tmp_path / "home" / "orders"), BASE_DIR_ENV)


def test_a_url_is_passed_on_for_the_store_to_refuse(no_config_files, monkeypatch):
    monkeypatch.setenv(BASE_DIR_ENV, "s3://bucket/orders")
    assert base_dir_and_origin("data") == ("s3://bucket/orders", BASE_DIR_ENV)


def test_the_command_line_flag_overrides_everything(no_config_files, tmp_path, monkeypatch):
    monkeypatch.setenv(BASE_DIR_ENV, "from-env")
    monkeypatch.chdir(tmp_path)
    args = ["DailyReport", "--date", "2024-02-01", "--etl-base-dir", "from-flag"]
    with CmdlineParser.global_instance(args):
        assert base_dir_and_origin("from-flag") == (str(tmp_path / "from-flag"), "--etl-base-dir")
    assert os.environ[BASE_DIR_ENV] == "from-env"
