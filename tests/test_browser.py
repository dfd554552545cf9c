"""The browser the page tests rely on reports what a person would see go wrong, and nothing on a clean page."""

from pathlib import Path

from tests.browser import render


def test_a_clean_page_has_no_problems_and_a_screenshot(tmp_path: Path) -> None:
    page = tmp_path / "clean.html"
    page.write_text("<html><body><h1>orders</h1><script>document.title = 'ok';</script></body></html>")
    assert render(page.as_uri(), tmp_path / "browser-clean.png") == []
    assert (tmp_path / "browser-clean.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_script_errors_and_requests_off_the_machine_are_reported(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><body><img src='http://192.0.2.1/x.png'><script>console.error('bad'); alert('injected');"
        " missingFunction();</script></body></html>"
    )
    problems = render(page.as_uri(), tmp_path / "browser-broken.png")
    assert any("missingFunction" in line for line in problems), problems
    assert "console error: bad" in problems
    assert "dialog: alert injected" in problems, "a dialog a script opens is reported (and dismissed, not waited on)"
    assert "request off the machine: http://192.0.2.1/x.png" in problems
