"""Sweep dirs -> the papers' tables (markdown + LaTeX) and figures (PNG + PDF).

collect.py turns a sweep dir into one row per job; common.py holds the shared formatting and
figure helpers; papers/<key>.py registers each paper's tables and figures with its numbers.
"""
