# The classes `_errors.py` makes from the core's error table at import, as
# mypy needs to see them. `python -m mypy.stubtest reelgraph` (make test)
# fails when the table gains a category this file lacks.

from typing import Any, ClassVar, Dict, Optional, Tuple, Type

__all__ = [
    "ReelgraphError",
    "TaskFailed",
    "class_for_code",
    "InvalidInput",
    "NotFound",
    "Conflict",
    "Refused",
    "Unavailable",
    "Internal",
    "ConnectionRejected",
    "ValidationFailed",
]

class ReelgraphError(Exception):
    category: ClassVar[str]
    code: str
    message: str
    hint: str
    details: Dict[str, Any]
    def __init__(
        self, code: str, message: str, hint: str = "", details: Optional[Dict[str, Any]] = None
    ) -> None: ...
    def to_dict(self) -> Dict[str, Any]: ...

class InvalidInput(ReelgraphError): ...
class NotFound(ReelgraphError): ...
class Conflict(ReelgraphError): ...
class Refused(ReelgraphError): ...
class Unavailable(ReelgraphError): ...
class Internal(ReelgraphError): ...

class ConnectionRejected(Refused):
    codes: ClassVar[Tuple[str, ...]]

class ValidationFailed(Refused):
    codes: ClassVar[Tuple[str, ...]]

class TaskFailed(ReelgraphError): ...

CATEGORY_CLASSES: Dict[str, Type[ReelgraphError]]

def class_for_code(code: str) -> Type[ReelgraphError]: ...
