"""Canvas stores (memory, files, SQLite), blocking and async, and the
autosaver."""

import asyncio

import pytest

import reelgraph
from runs_support import canvas_of, node_type


@pytest.fixture(params=["memory", "files", "sqlite"])
def store(request, tmp_path):
    if request.param == "memory":
        return reelgraph.MemoryStore()
    if request.param == "files":
        return reelgraph.FileStore(str(tmp_path / "canvases"))
    return reelgraph.SqliteStore(str(tmp_path / "canvases.db"))


def shot(number):
    return {"op": "add_node", "id": f"s{number}", "type": "shot", "properties": {"number": number}}


def test_create_get_save_list_versions_delete(store):
    canvas = reelgraph.Canvas("reel", "Reel")
    created = store.create(canvas)
    assert created["revision"] == 0
    canvas.apply([shot(1)])
    saved = store.save(canvas, 0)
    assert saved["revision"] == 1
    loaded = store.get("reel")
    assert isinstance(loaded, reelgraph.Canvas)
    assert (loaded.id, loaded.revision) == ("reel", 1)
    assert store.get_version("reel", 0).revision == 0
    page = store.list()
    assert [item["id"] for item in page["items"]] == ["reel"] and page["next_cursor"] is None
    assert store.list(name_prefix="Nope")["items"] == []
    assert [v["revision"] for v in store.versions("reel")] == [1, 0]
    store.delete("reel")
    with pytest.raises(reelgraph.NotFound) as missing:
        store.get("reel")
    assert missing.value.code == "not_found"


def test_a_stale_save_is_a_conflict(store):
    canvas = reelgraph.Canvas("reel", "Reel")
    store.create(canvas)
    mine, theirs = store.get("reel"), store.get("reel")
    theirs.apply([shot(1)])
    store.save(theirs, 0)
    mine.apply([shot(2)])
    with pytest.raises(reelgraph.Conflict) as conflict:
        store.save(mine, 0)
    assert conflict.value.code == "conflict"
    assert conflict.value.details["current"] == 1


def test_async_twins(store):
    async def main():
        canvas = reelgraph.Canvas("reel", "Reel")
        await store.create_async(canvas)
        canvas.apply([shot(1)])
        await store.save_async(canvas, 0)
        loaded = await store.get_async("reel")
        page = await store.list_async(limit=10)
        versions = await store.versions_async("reel")
        old = await store.get_version_async("reel", 0)
        await store.delete_async("reel", expected_revision=1)
        return loaded.revision, page, versions, old.revision

    revision, page, versions, old = asyncio.run(main())
    assert revision == 1 and old == 0
    assert page["items"][0]["id"] == "reel"
    assert len(versions) == 2
    assert store.list()["items"] == []


def test_an_async_call_outside_a_loop_says_how_to_call_it(store):
    with pytest.raises(RuntimeError, match="no asyncio loop is running"):
        store.get_async("reel")


@pytest.mark.parametrize("kind", ["files", "sqlite"])
def test_a_store_path_that_is_not_writable_is_a_clear_error(kind, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    path = str(blocker / "store")
    with pytest.raises(reelgraph.ReelgraphError) as refused:
        if kind == "files":
            reelgraph.FileStore(path)
        else:
            reelgraph.SqliteStore(path)
    assert refused.value.code in ("storage", "io")
    assert "a-file" in str(refused.value)


def test_the_autosaver_saves_after_a_quiet_period_and_on_close():
    store = reelgraph.MemoryStore()
    canvas = reelgraph.Canvas("reel", "Reel")
    store.create(canvas)
    with reelgraph.Autosaver(canvas, store, quiet_period_ms=20, max_interval_ms=1000) as saver:
        canvas.apply([shot(1)])
        saver.touch()
        canvas.apply([shot(2)])
        saver.touch()
    assert store.get("reel").revision == 2
    events = saver.events()
    assert [e["type"] for e in events][-1] == "saved"
    assert events[-1]["revision"] == 2


def test_the_autosaver_reports_a_conflict():
    store = reelgraph.MemoryStore()
    canvas = reelgraph.Canvas("reel", "Reel")
    store.create(canvas)
    other = store.get("reel")
    other.apply([shot(9)])
    store.save(other, 0)
    saver = reelgraph.Autosaver(canvas, store, stored_revision=0, quiet_period_ms=10)
    canvas.apply([shot(1)])
    saver.touch()
    saver.close()
    events = saver.events()
    assert [e["type"] for e in events] == ["conflict"]
    assert (events[0]["expected"], events[0]["current"]) == (0, 1)


def test_a_canvas_of_custom_types_comes_back_with_its_catalog(store):
    canvas = canvas_of({"a": "text.upper"})
    store.create(canvas)
    loaded = store.get("c", catalog=canvas_catalog())
    assert loaded.to_dict()["nodes"][0]["type"] == "text_upper"
    assert store.get_version("c", 1, catalog=canvas_catalog()).revision == 1


def canvas_catalog():
    catalog = reelgraph.Catalog.builtin()
    catalog.register(node_type("text.upper"))
    return catalog
