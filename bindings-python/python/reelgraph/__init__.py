"""reelgraph: the node-based production canvas of AI film pipelines.

The engine is the Rust core (``reelgraph._native``); this package re-exports
it with its exception classes (see ``reelgraph._errors``).
"""

from . import _errors
from ._errors import *  # noqa: F403 - the classes are made from the error table
from ._function_errors import (
    FunctionError,
    InvalidInputError,
    PermanentError,
    ResourceError,
    TransientError,
)
from ._native import (
    Applied,
    Autosaver,
    Batch,
    Canvas,
    CanvasStore,
    Catalog,
    Event,
    Executor,
    FileStore,
    HttpRunner,
    Imported,
    LocalRunner,
    MemoryCache,
    MemoryStore,
    Plan,
    ResultCache,
    Run,
    RunEvents,
    SqliteCache,
    SqliteStore,
    TaskContext,
    Worker,
    __version__,
    detect_format,
    import_any,
    import_comfyui,
    import_react_flow,
)
from ._report import RunReport

__all__ = [
    "Applied",
    "Autosaver",
    "Batch",
    "Canvas",
    "CanvasStore",
    "Catalog",
    "Event",
    "Executor",
    "FileStore",
    "FunctionError",
    "HttpRunner",
    "Imported",
    "InvalidInputError",
    "LocalRunner",
    "MemoryCache",
    "MemoryStore",
    "PermanentError",
    "Plan",
    "ResourceError",
    "ResultCache",
    "Run",
    "RunEvents",
    "RunReport",
    "SqliteCache",
    "SqliteStore",
    "TaskContext",
    "TransientError",
    "Worker",
    "__version__",
    "detect_format",
    "import_any",
    "import_comfyui",
    "import_react_flow",
    *_errors.__all__,
]
