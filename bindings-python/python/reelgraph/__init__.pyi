# What `import reelgraph` offers, as mypy needs to see it: `__init__.py`
# builds `__all__` from the error table's classes at import.

from ._errors import (
    Conflict as Conflict,
    ConnectionRejected as ConnectionRejected,
    Internal as Internal,
    InvalidInput as InvalidInput,
    NotFound as NotFound,
    ReelgraphError as ReelgraphError,
    Refused as Refused,
    TaskFailed as TaskFailed,
    Unavailable as Unavailable,
    ValidationFailed as ValidationFailed,
    class_for_code as class_for_code,
)
from ._native import (
    Canvas as Canvas,
    Catalog as Catalog,
    Imported as Imported,
    __version__ as __version__,
    detect_format as detect_format,
    import_any as import_any,
    import_comfyui as import_comfyui,
    import_react_flow as import_react_flow,
)

__all__ = [
    "Canvas",
    "Catalog",
    "Imported",
    "__version__",
    "detect_format",
    "import_any",
    "import_comfyui",
    "import_react_flow",
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
