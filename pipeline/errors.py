"""Errors a user can act on. The CLI prints their message (which names the file, and line where it
applies) and exits non-zero, without a traceback."""


class StageError(RuntimeError):
    """A stage cannot finish because of its input; the message says which file and what to do."""
