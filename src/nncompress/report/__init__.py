"""Sweep dirs -> the papers' tables (markdown + LaTeX) and figures (PNG + PDF)."""
from nncompress.report.collect import collect, expected_jobs  # noqa: F401
