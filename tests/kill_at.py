"""Run the luigi command line and SIGKILL it just before its Nth file event, as a power cut or the OOM killer
would: ``python kill_at.py N EVENTS_FILE luigi-args...``. The events are the audit events of every step that
changes the disk (a temporary file made, a file renamed, its time set, a file or directory removed). A run
that is not killed lists its events in EVENTS_FILE, one line each (event and path), so that a test can aim at
every moment of a run.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys

EVENTS = frozenset({"tempfile.mkstemp", "os.rename", "os.utime", "os.remove", "os.rmdir", "shutil.rmtree"})
kill_at, events_file = int(sys.argv[1]), sys.argv[2]
seen: list[str] = []


def on_event(event: str, args: tuple) -> None:
    if event in EVENTS:
        seen.append(f"{event} {args[0]}")
        if len(seen) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def write_events() -> None:
    with open(events_file, "w") as out:
        out.writelines(f"{line}\n" for line in seen)


if __name__ == "__main__":
    atexit.register(write_events)
    sys.addaudithook(on_event)
    from luigi.cmdline import luigi_run

    luigi_run(sys.argv[3:])
