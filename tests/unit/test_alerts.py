"""Alerts: what a webhook (a real HTTP server) and a mail server (a real SMTP server) receive, what a dead or hung
webhook costs, and the texts made from a run's failures and successes."""

from __future__ import annotations

import datetime
import http.server
import logging
import time
import traceback

import pytest
from conftest import free_port, http_server

from etl import alerts
from etl.chunks import DaysFailedError
from etl.run_settings import load_run_settings
from etl.run_summary import RunSummary

D = datetime.date
ALERT = alerts.Alert("Luigi: etl: the report of 2024-01-12 is not done", "rolling is held back: <min_orders> & more")


def warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


def test_an_alert_reaches_the_webhook_as_slacks_json_with_its_markup_escaped(configure, webhook_inbox, caplog):
    url, received = webhook_inbox
    configure({"alerts": {"webhook_url": url}})

    alerts.send(ALERT)

    escaped = "rolling is held back: &lt;min_orders&gt; &amp; more"
    assert received == [{"text": f"{ALERT.subject}\n{escaped}"}], "Slack reads & < > as markup"
    assert warnings(caplog) == []


def test_an_alert_is_mailed_through_luigis_email_and_smtp_settings(configure, smtp_inbox):
    port, received = smtp_inbox
    configure({
        "email": {"receiver": "oncall@example.test", "sender": "etl@example.test"},
        "smtp": {"host": "127.0.0.1", "port": port, "no_tls": "true"},
    })  # fmt: skip

    alerts.send(alerts.Alert("Luigi: RangeDaily FAILED", "2024-01-03: validation failed", "Traceback ..."))

    assert len(received) == 1
    assert (received[0]["Subject"], received[0]["To"]) == ("Luigi: RangeDaily FAILED", "oncall@example.test")
    (body,) = [part.get_payload(decode=True).decode() for part in received[0].walk() if not part.is_multipart()]
    assert body == "2024-01-03: validation failed\n\nTraceback ..."


def test_without_a_webhook_or_a_receiver_nothing_is_sent_and_nothing_said(configure, caplog):
    alerts.send(ALERT)

    assert warnings(caplog) == []


def test_a_webhook_that_refuses_costs_one_warning_naming_its_host_and_not_its_secret_path(configure, caplog):
    port = free_port()  # nothing listens there
    configure({"alerts": {"webhook_url": f"http://127.0.0.1:{port}/services/T0/B0/secret-token"}})

    alerts.send(ALERT)

    assert warnings(caplog) == [
        f"etl: alert not sent to webhook http://127.0.0.1:{port}: [Errno 111] Connection refused"
    ]


def test_a_hung_webhook_is_given_up_after_the_timeout_with_one_warning(configure, silent_port, caplog):
    configure({"alerts": {"webhook_url": f"http://127.0.0.1:{silent_port}/hook", "timeout_seconds": "0.5"}})

    started = time.monotonic()
    alerts.send(ALERT)
    waited = time.monotonic() - started

    assert warnings(caplog) == [f"etl: alert not sent to webhook http://127.0.0.1:{silent_port}: no answer in 0.5 s"]
    assert 0.5 <= waited < 5, "it waits for the answer up to the timeout, and not for ever"


def test_a_webhook_answering_an_error_is_named_with_its_status(configure, caplog):
    class Broken(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_error(500)

        def log_message(self, *args) -> None:
            """Quiet."""

    with http_server(Broken) as port:
        configure({"alerts": {"webhook_url": f"http://127.0.0.1:{port}/hook"}})
        alerts.send(ALERT)

    assert warnings(caplog) == [
        f"etl: alert not sent to webhook http://127.0.0.1:{port}: HTTP 500 Internal Server Error"
    ]


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("webhook_url", "hooks.example.test/T0", "empty or an http:// or https:// URL"),
        ("webhook_url", "file:///etc/passwd", "empty or an http:// or https:// URL"),
        ("timeout_seconds", "0", "a finite number of at least 0.1"),
        ("on_success", "sometimes", "true or false"),
    ],
)
def test_a_bad_alerts_setting_is_refused_naming_it(configure, option, value, allowed):
    configure({"alerts": {option: value}})

    with pytest.raises(alerts.SettingsError) as refused:
        alerts.configured()

    flag = f"--alerts-{option.replace('_', '-')}"
    assert str(refused.value) == f"setting [alerts] {option} ({flag}): {value!r} is not {allowed}"


def test_the_defaults_send_no_webhook_and_no_success_summary(configure):
    assert alerts.configured() == alerts.AlertSettings(webhook_url="", on_success=False, timeout_seconds=5.0)


def test_a_long_text_is_cut_for_the_chat_and_says_how_much_is_left():
    text = "\n".join(f"2024-01-{day:02d}: held back" for day in range(1, 31))

    payload = alerts.webhook_payload(alerts.Alert("Luigi: RangeDaily FAILED", text))

    lines = payload["text"].splitlines()
    assert lines[0] == "Luigi: RangeDaily FAILED"
    assert lines[1 : alerts.WEBHOOK_LINES] == text.splitlines()[: alerts.WEBHOOK_LINES - 1]
    assert lines[alerts.WEBHOOK_LINES] == "... and 11 more lines"
    assert len(lines) == 1 + alerts.WEBHOOK_LINES


def explained(error: Exception) -> str:
    """Luigi's explanation of a task that raised ``error`` (``Task.on_failure``): a real traceback."""
    try:
        try:
            raise KeyError("the first error")
        except KeyError as first:
            raise error from first
    except Exception:
        return f"Runtime error:\n{traceback.format_exc()}"


def test_the_errors_own_message_is_taken_out_of_luigis_explanation_of_a_failure():
    days = (
        "2024-01-03: validation failed for 2024-01-03 in /srv/orders.csv: min_orders: 1 orders\n2024-01-09: held back"
    )

    assert alerts.error_message(explained(DaysFailedError(f"2 days of DailyReport failed in the range:\n{days}"))) == (
        f"etl.chunks.DaysFailedError: 2 days of DailyReport failed in the range:\n{days}"
    )
    assert (
        alerts.error_message(explained(ZeroDivisionError("division by zero"))) == "ZeroDivisionError: division by zero"
    )
    external = "Task is an external data dependency and data does not exist (yet?)."
    assert alerts.error_message(external) == external


def failure(task: str, message: str) -> alerts.Failure:
    return alerts.Failure(task=task, subject=f"Luigi: {task} FAILED. Host: h1", message=message, report=f"<{task}>")


def test_a_run_with_one_failure_alerts_with_luigis_own_subject_and_report():
    alert = alerts.run_failed([failure("RangeDaily(...)", "2 days failed:\n2024-01-03: min_orders")], "h1")

    assert alert == alerts.Alert(
        "Luigi: RangeDaily(...) FAILED. Host: h1", "2 days failed:\n2024-01-03: min_orders", "<RangeDaily(...)>"
    )


def test_a_run_with_several_failures_alerts_once_naming_each_task():
    failures = [failure("ProcessDays(a)", "OSError: disk full"), failure("ProcessDays(b)", "OSError: disk full")]

    alert = alerts.run_failed(failures, "h1")

    assert alert.subject == "Luigi: 2 tasks FAILED. Host: h1"
    assert alert.text == "ProcessDays(a): OSError: disk full\nProcessDays(b): OSError: disk full"
    assert alert.details == "<ProcessDays(a)>\n\n<ProcessDays(b)>"


def test_a_succeeded_range_says_days_done_skipped_and_failed_in_one_line():
    days = tuple(D(2024, 1, 1) + datetime.timedelta(days=n) for n in range(14))
    summary = RunSummary("DailyPipeline", days, done=days[-1:], skipped=days[:-1], failed=(), not_built=())

    alert = alerts.range_succeeded("etl backfill", summary)

    assert alert.text == (
        "etl backfill DailyPipeline 2024-01-01..2024-01-14 (14 days): 1 done (2024-01-14), 13 skipped "
        "(2024-01-01..2024-01-13), 0 failed"
    )
    assert alert.subject.startswith("Luigi: etl backfill DailyPipeline 2024-01-01..2024-01-14 succeeded. Host: ")


def test_a_bad_alerts_setting_stops_a_run_before_any_work_and_alerts_do_not_shape_reports(configure):
    assert "alerts" not in load_run_settings().report_config, "a report does not change because a webhook moved"
    configure({"alerts": {"timeout_seconds": "soon"}})

    with pytest.raises(alerts.SettingsError, match=r"^setting \[alerts\] timeout_seconds \(--alerts-timeout-seconds\)"):
        load_run_settings()
