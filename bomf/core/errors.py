"""User-facing errors: one line that names the problem and the fix.

The CLI prints ``BomfError`` messages without a traceback; anything else is a bug
and keeps its traceback.

Example:
    >>> raise BomfError("unknown task 'foo'; known: rt-polarity, aclsum-qnli")
    Traceback (most recent call last):
    ...
    bomf.core.errors.BomfError: unknown task 'foo'; known: rt-polarity, aclsum-qnli
"""


class BomfError(Exception):
    """A problem the user can fix; the message is one line and says how."""


class OfflineError(BomfError):
    """A Hub asset was requested but the Hub cannot be reached."""


class CheckpointError(BomfError):
    """A cached checkpoint is corrupt, truncated, or of another architecture."""


class TrainingDivergedError(BomfError):
    """Training produced a NaN/inf loss."""
