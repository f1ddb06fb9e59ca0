"""Exception classes made from the core's error table.

Every error reelgraph raises is a :class:`ReelgraphError` with the core's error
body: ``code`` (stable, snake_case), ``message``, ``hint`` (what to do next)
and ``details`` (a dict). Its class is the one of its category in the table
(``InvalidInput``, ``NotFound``, ``Conflict``, ``Refused``, ``Unavailable``,
``Internal``), or, for the codes callers catch most, a subclass of that:
``ConnectionRejected`` and ``ValidationFailed``. ``TaskFailed`` is a task of a
run that failed. The classes are made from ``_native.error_table()``, so they
cannot drift from the core.
"""

from typing import Any, Dict, Optional, Tuple, Type

from . import _native

__all__ = ["ReelgraphError", "TaskFailed", "class_for_code"]


class ReelgraphError(Exception):
    """Base class of every error reelgraph raises."""

    #: The category of the class's codes in the error table ("" for the base).
    category = ""

    def __init__(
        self,
        code: str,
        message: str,
        hint: str = "",
        details: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(code, message, hint, details)
        self.code = code
        self.message = message
        self.hint = hint
        self.details: Dict[str, Any] = {} if details is None else details

    def __str__(self) -> str:
        # The message says what went wrong; the hint says what to do next.
        if self.hint:
            return f"{self.message} [{self.code}] (hint: {self.hint})"
        return f"{self.message} [{self.code}]"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def to_dict(self) -> Dict[str, Any]:
        """The error body as the core wrote it: ``{code, message, hint, details}``."""
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "details": self.details,
        }


def _class_name(category: str) -> str:
    return "".join(word.capitalize() for word in category.split("_"))


_TABLE = {row["code"]: row for row in _native.error_table()}

#: One class per category of the error table, in the order of the docs.
CATEGORY_CLASSES: Dict[str, Type[ReelgraphError]] = {}
for _category in _native.error_categories():
    CATEGORY_CLASSES[_category] = type(
        _class_name(_category),
        (ReelgraphError,),
        {
            "__doc__": f"An error of category ``{_category}`` in the error table.",
            "__module__": "reelgraph",
            "category": _category,
        },
    )
    globals()[_class_name(_category)] = CATEGORY_CLASSES[_category]
    __all__.append(_class_name(_category))

# The codes callers catch most, each set under the class of its category.
_SPECIFIC: Dict[str, Tuple[str, Tuple[str, ...], str]] = {
    "ConnectionRejected": (
        "refused",
        ("self_loop", "type_mismatch", "cycle", "input_occupied", "duplicate_edge"),
        "A connection rule refused an edge (unknown nodes and ports are ``NotFound``).",
    ),
    "ValidationFailed": (
        "refused",
        ("invalid_canvas",),
        "A run was refused: the canvas's validation report (``details['report']``) has errors.",
    ),
}

_CODE_CLASSES: Dict[str, Type[ReelgraphError]] = {}
for _name, (_category, _codes, _doc) in _SPECIFIC.items():
    _cls = type(
        _name,
        (CATEGORY_CLASSES[_category],),
        {"__doc__": _doc, "__module__": "reelgraph", "codes": _codes},
    )
    globals()[_name] = _cls
    __all__.append(_name)
    for _code in _codes:
        _CODE_CLASSES[_code] = _cls


class TaskFailed(ReelgraphError):
    """A task of a run failed; ``code`` is the task error's kind
    (``transient``, ``resource``, ``invalid_input``, ``permanent``,
    ``cancelled``, ``timeout``)."""


def class_for_code(code: str) -> Type[ReelgraphError]:
    """The class an error with ``code`` is raised as."""
    specific = _CODE_CLASSES.get(code)
    if specific is not None:
        return specific
    row = _TABLE.get(code)
    # A code outside the table is the core failing: the core treats it so too.
    category = row["category"] if row is not None else "internal"
    return CATEGORY_CLASSES[category]


def _from_body(code: str, message: str, hint: str, details: Dict[str, Any]) -> ReelgraphError:
    """The exception the native module raises for a core error body."""
    return class_for_code(code)(code, message, hint, details)


ReelgraphError.__module__ = "reelgraph"
TaskFailed.__module__ = "reelgraph"
