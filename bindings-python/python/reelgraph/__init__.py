"""reelgraph: the node-based production canvas of AI film pipelines.

The engine is the Rust core (``reelgraph._native``); this package re-exports
it with its exception classes (see ``reelgraph._errors``).
"""

from . import _errors
from ._errors import *  # noqa: F403 - the classes are made from the error table
from ._native import (
    Canvas,
    Catalog,
    Imported,
    __version__,
    detect_format,
    import_any,
    import_comfyui,
    import_react_flow,
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
    *_errors.__all__,
]
