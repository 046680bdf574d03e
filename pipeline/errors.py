"""Errors that end a run with a message for the user rather than a traceback."""


class UsageError(Exception):
    """Unusable input or configuration: the run stops with exit code 2.

    The message names the file and, where there is one, the column, so the person
    running the job can fix the export without reading code.
    """


class ProcessLost(Exception):
    """A process of the run's own (reading part of an X12 file) stopped before its work
    was done: killed, most often by the system for want of memory. The run stops with
    exit code 1 and one line naming the work."""
