"""`folio index` shows time left from its first progress report."""

from __future__ import annotations

from app.cli.index import EtaClock


def test_eta_from_the_first_report():
    clock = EtaClock()
    clock.start()
    started = clock._started
    assert clock.text(1, 10, now=started + 2.0) == "ETA 0:18"  # 2 s per document, 9 left
    assert clock.text(5, 10, now=started + 100.0) == "ETA 1:40"


def test_no_eta_before_progress_or_when_done():
    clock = EtaClock()
    clock.start()
    assert clock.text(0, 10) == ""
    assert clock.text(10, 10) == ""
