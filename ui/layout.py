"""The page's layout scripts: the phone's summary under the controls, and tables that fit their box."""
from __future__ import annotations

from pathlib import Path

SUMMARY_JS = (Path(__file__).parent / "summary.js").read_text()     # the headline mirrored next to the slider
TABLES_JS = (Path(__file__).parent / "tables.js").read_text()       # wide tables stacked, cells labelled
