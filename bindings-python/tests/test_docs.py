"""The Python examples of the docs run: every ```python block of
`docs/python.md` and of `README.md`, in order, as one script per page (a
block builds on the ones before it), in an empty working directory. The
pages' remote examples get a real server in REELGRAPH_SERVER and
REELGRAPH_KEY."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server_support import start

ROOT = Path(__file__).resolve().parents[2]
PAGES = {"docs/python.md": 10, "README.md": 1}
#: Pages whose examples talk to a server.
SERVED = {"docs/python.md"}
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(ROOT / page)
    # Fewer blocks than the page had when this was written: a block lost its
    # ```python fence and would no longer be tested.
    assert len(blocks) >= PAGES[page], f"{page} has {len(blocks)} python blocks"
    server = start(tmp_path / "server") if page in SERVED else None
    try:
        if server is not None:
            monkeypatch.setenv("REELGRAPH_SERVER", server.url)
            monkeypatch.setenv("REELGRAPH_KEY", server.key)
        (tmp_path / "work").mkdir()
        monkeypatch.chdir(tmp_path / "work")
        namespace: dict[str, object] = {"__name__": "__docs__"}
        for i, block in enumerate(blocks, 1):
            exec(compile(block, f"{page} (python block {i})", "exec"), namespace)
    finally:
        if server is not None:
            server.stop()
