"""Errors with a meaning for the entry point: run.py prints a UserError as one line and exits
non-zero, no traceback; a Paused run exits cleanly and resumes when started again."""


class UserError(ValueError):
    """Bad input or a missing file; the message says what to fix."""


class Paused(Exception):
    """Long work stopped on request (e.g. `coding.stop_after`); its state is saved and the same
    command resumes it."""
