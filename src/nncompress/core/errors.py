"""Errors the user can fix: run.py prints them as one line and exits non-zero, no traceback."""


class UserError(ValueError):
    """Bad input or a missing file; the message says what to fix."""
