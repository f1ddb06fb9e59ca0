"""Exceptions a runner function raises to say how its task failed.

The executor turns them into the core's task error kinds, which decide what
happens next (a retry, a lower quality tier, or a failed node):

- ``TransientError`` -> ``transient`` (worth retrying)
- ``ResourceError`` -> ``resource`` (may work at a lower quality tier)
- ``InvalidInputError`` -> ``invalid_input`` (fix the canvas)
- ``PermanentError`` -> ``permanent``
- the built-in ``TimeoutError`` -> ``timeout``
- ``asyncio.CancelledError`` -> ``cancelled``
- any other exception -> ``permanent``, with its traceback in the error's
  ``details``.
"""


class FunctionError(Exception):
    """Base of the exceptions that name a task error kind."""

    kind = "permanent"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class TransientError(FunctionError):
    """A passing failure (network, a busy worker): the task may be retried."""

    kind = "transient"


class ResourceError(FunctionError):
    """Out of memory or capacity: the task may work at a lower quality tier."""

    kind = "resource"


class InvalidInputError(FunctionError):
    """The params are wrong: retrying cannot help."""

    kind = "invalid_input"


class PermanentError(FunctionError):
    """The function failed for good."""

    kind = "permanent"
