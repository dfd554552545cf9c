"""Alerts: one message about a run or a check, sent by Luigi's mail and to a webhook, never at the run's expense.

Mail goes through Luigi's own ``[email]``/``[smtp]`` settings and code (``luigi.notifications``): nothing is mailed
without ``[email] receiver``; a mail server that is down costs Luigi's one line ("Not able to connect to smtp server:
..."), after at most ``[smtp] timeout``. The webhook (``[alerts] webhook_url``) receives Slack's JSON, ``{"text":
...}``, which Slack, Mattermost and Rocket.Chat incoming webhooks take; it is given ``[alerts] timeout_seconds`` in all,
and a failure costs one warning line naming its host and why. Nothing here raises.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from typing import TYPE_CHECKING

import luigi
import luigi.notifications

from etl import config
from etl.config import SettingsError, read_section

if TYPE_CHECKING:
    from etl.run_summary import RunSummary

logger = logging.getLogger("luigi-interface")
WEBHOOK_LINES = 20  # a chat message shows this many lines of an alert's text; the mail has them all


@dataclasses.dataclass(frozen=True)
class Alert:
    """``subject``: one line, the mail's subject and the chat message's first line; ``text``: what a person reads
    first (a line, or a line a day); ``details``: the rest, for the mail (a task's parameters, the traceback)."""

    subject: str
    text: str
    details: str = ""


@dataclasses.dataclass(frozen=True)
class Failure:
    """A failure Luigi's worker would have mailed at once: the task, Luigi's subject and mail body for it, and the
    error's own message."""

    task: str
    subject: str
    message: str
    report: str


@dataclasses.dataclass(frozen=True)
class AlertSettings:
    """The ``[alerts]`` section."""

    webhook_url: str
    on_success: bool
    timeout_seconds: float


def configured() -> AlertSettings:
    """The ``[alerts]`` settings in force; SettingsError names a bad value."""
    return AlertSettings(**read_section(config.alerts))


def send(alert: Alert) -> None:
    """Mail ``alert`` through Luigi (when ``[email] receiver`` is set) and post it to ``[alerts] webhook_url`` (when
    set). Never raises: an alert that cannot go costs one log line, never the run it reports on."""
    try:
        with warnings.catch_warnings():  # Luigi's [smtp] settings whose default is None each warn on every mail
            warnings.filterwarnings("ignore", 'Parameter ".*" with value "None" is not of type string', UserWarning)
            luigi.notifications.send_error_email(alert.subject, "\n\n".join(filter(None, (alert.text, alert.details))))
    except Exception as error:  # Luigi logs a mail server that is down itself; this is anything else
        logger.warning("etl: alert not mailed: %s", error)
    try:
        settings = configured()
    except SettingsError as error:
        logger.warning("etl: alert not sent to the webhook: %s", error)
        return
    if settings.webhook_url:
        post(settings.webhook_url, webhook_payload(alert), settings.timeout_seconds)


def post(url: str, payload: dict[str, str], timeout: float) -> None:
    """POST ``payload`` as JSON to ``url``, waiting at most ``timeout`` seconds in all (a name that does not resolve
    included); on failure one warning line naming the endpoint (without its path: a webhook's path is its secret)."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    outcome: list[BaseException | None] = []

    def deliver() -> None:
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    delivery = threading.Thread(target=deliver, name="etl-webhook", daemon=True)
    delivery.start()
    delivery.join(timeout)
    if outcome and outcome[0] is None:
        return
    reason = why(outcome[0], timeout) if outcome else why(TimeoutError(), timeout)
    logger.warning("etl: alert not sent to webhook %s: %s", endpoint(url), reason)


def webhook_payload(alert: Alert) -> dict[str, str]:
    """Slack's incoming-webhook message: the subject, then the text's first lines, with the three characters Slack
    reads as markup (``& < >``) escaped."""
    lines = alert.text.splitlines()
    if len(lines) > WEBHOOK_LINES:
        lines = [*lines[: WEBHOOK_LINES - 1], f"... and {len(lines) - WEBHOOK_LINES + 1} more lines"]
    text = "\n".join([alert.subject, *lines])
    return {"text": text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")}


def task_failure(task: luigi.Task, explanation: str, subject: str, headline: str) -> Failure:
    """A failure as Luigi's worker mails it (``Worker._email_error``: subject, headline, the command line, the
    explanation), with the error's own message taken out of the explanation."""
    report = luigi.notifications.format_task_error(headline, task, subprocess.list2cmdline(sys.argv), explanation)
    return Failure(task=str(task), subject=subject, message=error_message(explanation), report=report)


def run_failed(failures: list[Failure], host: str) -> Alert:
    """One alert for all the failures of a run: a run that fails in many tasks at once (a full disk under every
    chunk) sends one message, not one a task."""
    if len(failures) == 1:
        (failure,) = failures
        return Alert(failure.subject, failure.message, failure.report)
    text = "\n".join(f"{failure.task}: {failure.message}" for failure in failures)
    details = "\n\n".join(failure.report for failure in failures)
    return Alert(f"Luigi: {len(failures)} tasks FAILED. Host: {host}", text, details)


def range_succeeded(command: str, summary: RunSummary) -> Alert:
    """The one-line summary of a range run that succeeded: the run summary's line (days done by the run, skipped,
    failed, and which), the one its log ends with."""
    subject = f"Luigi: {command} {summary.family} {summary.span()} succeeded. Host: {socket.gethostname()}"
    return Alert(subject, f"{command} {summary.line()}")


def error_message(explanation: str) -> str:
    """The error's own message out of Luigi's explanation of a failure (``Runtime error:`` and a traceback): the
    lines after the last frame of the traceback, or the explanation itself when it holds none."""
    lines = explanation.strip().removeprefix("Runtime error:").strip().splitlines()
    frames = [index for index, line in enumerate(lines) if line.startswith('  File "')]
    if not frames:
        return "\n".join(lines)
    message = lines[frames[-1] + 1 :]
    while message and message[0].startswith("    "):  # the frame's source line and Python's ^^^ markers
        message.pop(0)
    return "\n".join(message)


def endpoint(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: where it goes, without the path that holds a webhook's secret."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def why(error: BaseException, timeout: float) -> str:
    """An HTTP or network error in a few words: ``HTTP 500 Internal Server Error``, ``[Errno 111] Connection
    refused``, ``no answer in 5 s`` (connecting or reading)."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return f"no answer in {timeout:g} s"
    return str(reason) or type(reason).__name__
