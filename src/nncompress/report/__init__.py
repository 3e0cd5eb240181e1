"""Sweep dirs -> the papers' tables (markdown + LaTeX) and figures (PNG + PDF).

Figures live in nncompress.report.figures (not imported here: it loads matplotlib).
"""
from nncompress.report.collect import collect, expected_jobs  # noqa: F401
from nncompress.report.tables import mean_se, table1  # noqa: F401
