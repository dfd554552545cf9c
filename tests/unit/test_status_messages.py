"""The status messages tasks show in luigid's web view: their counts, and markup from a file arriving inert."""

from types import SimpleNamespace

from etl.status_messages import Rows, chunk_message, show


def test_rows_add_up_each_kind_and_a_kind_no_step_counted_stays_unsaid():
    validated, processed = Rows(refused=3), Rows(read=1000, written=995)

    total = validated + processed + Rows(refused=0) + Rows()

    assert total == Rows(read=1000, written=995, refused=3)
    assert total.describe() == "rows: 1,000 read, 995 written, 3 refused"
    assert processed.describe() == "rows: 1,000 read, 995 written", "a day's processing refuses nothing itself"
    assert Rows().describe() == "", "a report reads no rows"


def test_a_chunks_message_gives_its_days_its_rows_then_a_line_per_failed_day():
    failures = ["2024-01-03: validation failed for 2024-01-03 in /base/raw/day=03/orders.csv: min_orders: 4 orders"]

    message = chunk_message(5, 4, failures, Rows(read=400, written=398, refused=0))

    assert message.splitlines() == ["4 of 5 days done, 1 failed; rows: 400 read, 398 written, 0 refused", *failures]
    assert chunk_message(5, 5, [], Rows()) == "5 of 5 days done, 0 failed", "a report chunk counts no rows"


def test_show_sends_the_message_escaped_with_the_progress_and_nothing_outside_a_worker():
    sent: list[str] = []
    percents: list[int] = []
    task = SimpleNamespace(set_status_message=sent.append, set_progress_percentage=percents.append)

    show(task, "2024-01-02: readable_csv: row 'O1,<script>alert(\"x\")</script>' & more", 40)
    show(SimpleNamespace(set_status_message=None, set_progress_percentage=None), "not run by a worker", 50)

    assert sent == ["2024-01-02: readable_csv: row 'O1,&lt;script&gt;alert(\"x\")&lt;/script&gt;' &amp; more"]
    assert percents == [40]
