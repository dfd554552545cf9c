"""Log lines name what they are about: the label of a task, the filter on Luigi's logger, nested blocks."""

from __future__ import annotations

import datetime
import logging

import pytest

from etl import DailyReport, IngestLandingFiles, ProcessDays, RangeDaily
from etl.log_context import LOGGER, TaskRunContext, label, narrowed_to, working_on

D = datetime.date


@pytest.fixture
def lines() -> list[str]:
    """Every message Luigi's ``luigi-interface`` logger emits during the test, as its handlers format it."""
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(handler.format(record))
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_task_is_labelled_by_its_family_and_its_day_or_days(configure):
    assert label(DailyReport(date=D(2024, 1, 5))) == "DailyReport 2024-01-05"
    assert label(ProcessDays(start=D(2024, 1, 1), stop=D(2024, 1, 6), days_per_task=5)) == (
        "ProcessDays 2024-01-01..2024-01-05"
    ), "a chunk's days, the last one inclusive"
    assert label(RangeDaily(of=DailyReport, start=D(2024, 1, 1), stop=D(2024, 1, 15))) == (
        "RangeDaily 2024-01-01..2024-01-14"
    )
    assert label(IngestLandingFiles(landing_state="abc")) == "IngestLandingFiles", "a task of no day"


def test_lines_inside_a_block_name_it_the_innermost_block_wins_and_lines_outside_name_nothing(configure, lines):
    logger = logging.getLogger(LOGGER)
    logger.info("before")
    with working_on(ProcessDays(start=D(2024, 1, 1), stop=D(2024, 1, 6), days_per_task=5)):
        logger.info("chunk")
        with working_on(DailyReport(date=D(2024, 1, 5))):
            logger.warning("%d rows of %s", 3, D(2024, 1, 5))
        logger.info("chunk again")
    logger.info("after")

    assert lines == [
        "before",
        "[ProcessDays 2024-01-01..2024-01-05] chunk",
        "[DailyReport 2024-01-05] 3 rows of 2024-01-05",
        "[ProcessDays 2024-01-01..2024-01-05] chunk again",
        "after",
    ]


def test_a_narrowed_block_names_the_file_or_day_within_the_enclosing_work_and_percent_signs_stay_text(lines):
    logger = logging.getLogger(LOGGER)
    with working_on("IngestLandingFiles"):
        with narrowed_to("orders-100%.csv"):
            logger.info("etl: ingested %s", "orders-100%.csv")
        with narrowed_to("orders-50%.csv"):
            logger.info("no arguments: 50%")
    with narrowed_to("2024-01-05"):
        logger.info("outside any task")

    assert lines == [
        "[IngestLandingFiles orders-100%.csv] etl: ingested orders-100%.csv",
        "[IngestLandingFiles orders-50%.csv] no arguments: 50%",
        "[2024-01-05] outside any task",
    ]


def test_luigis_task_process_context_names_the_task_around_its_run_and_not_after(configure, lines):
    class TaskProcess:  # what Luigi hands [worker] task_process_context: the process, whose task runs
        task = DailyReport(date=D(2024, 1, 5))

    logger = logging.getLogger(LOGGER)
    with pytest.raises(RuntimeError), TaskRunContext(TaskProcess()):
        logger.info("running")
        raise RuntimeError("the task failed")
    logger.info("informed the scheduler")

    assert lines == ["[DailyReport 2024-01-05] running", "informed the scheduler"]
