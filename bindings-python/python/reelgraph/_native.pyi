# The native module, written by hand from bindings-python/src/*.rs; the dict
# shapes come from `reelgraph.types` (made from docs/schema/). Checked
# against the built module by `python -m mypy.stubtest reelgraph` (make test).

from typing import Any, List, Mapping, Sequence, Union

from typing_extensions import final

from .types import Applied, CanvasDocument, ErrorCode, Op

__all__ = ["Canvas", "Catalog", "__version__", "error_categories", "error_table"]

# A JSON value: what a dict argument may hold (it crosses through the core's serde).
_JsonValue = Any
# Ops as JSON text, a list of op dicts, or one op dict.
_Ops = Union[str, Sequence[Union[Op, Mapping[str, _JsonValue]]], Op, Mapping[str, _JsonValue]]

__version__: str

@final
class Catalog:
    @staticmethod
    def builtin() -> Catalog: ...
    def types(self) -> List[str]: ...

@final
class Canvas:
    def __new__(cls, id: str, name: str, catalog: Catalog | None = None) -> Canvas: ...
    @staticmethod
    def from_json(text: str, catalog: Catalog | None = None) -> Canvas: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def revision(self) -> int: ...
    def to_json(self) -> str: ...
    def to_dict(self) -> CanvasDocument: ...
    def apply(self, ops: _Ops) -> Applied: ...

def error_table() -> List[ErrorCode]: ...
def error_categories() -> List[str]: ...
