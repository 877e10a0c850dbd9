"""The screenshots in docs/tui.md are the snapshots the tests compare the app with, so
the manual shows the app as it is."""

from __future__ import annotations

import re

from support import ROOT

SNAPSHOTS = ROOT / "tests/tui/__snapshots__/test_snapshots"
SOURCES = {
    "data": "test_data_screen[120x40]",
    "configure": "test_configure_screen[120x40]",
    "search": "test_search_screen[120x40]",
    "search-80x24": "test_search_screen[80x24]",
    "results": "test_results_screen[120x40]",
    "results-check": "test_results_check_tab",
    "results-test": "test_results_test_and_curve_tabs[test]",
    "results-curve": "test_results_test_and_curve_tabs[curve]",
    "drift": "test_drift_screen[shown-120x40]",
    "explain": "test_explain_screen[120x40]",
    "explain-row": "test_explain_screen_row",
    "export": "test_export_screen[120x40]",
    "plugins": "test_plugins_screen[120x40]",
    "help": "test_help_screen[120x40]",
    "error": "test_error_dialog",
}


def test_every_screenshot_in_the_manual_is_a_current_snapshot():
    manual = (ROOT / "docs/tui.md").read_text()
    shown = set(re.findall(r"\(images/tui-([\w-]+)\.svg\)", manual))
    assert shown == set(SOURCES)
    for name, snapshot in SOURCES.items():
        image = ROOT / f"docs/images/tui-{name}.svg"
        expected = (SNAPSHOTS / f"{snapshot}.svg").read_text()
        assert image.read_text() == expected, f"copy {snapshot}.svg to {image}"
