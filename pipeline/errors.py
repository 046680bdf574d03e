"""Errors that end a run with a message for the user rather than a traceback."""


class UsageError(Exception):
    """Unusable input or configuration: the run stops with exit code 2.

    The message names the file and, where there is one, the column, so the person
    running the job can fix the export without reading code.
    """
