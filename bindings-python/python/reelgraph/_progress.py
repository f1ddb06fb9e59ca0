"""``run.progress()``: follow a run to its end with a progress bar."""

import sys
from typing import Any, Dict

# Events that end a node's part of the bar's postfix.
_NODE_ENDS = {"node_completed", "node_failed", "node_skipped", "node_cached"}


def follow(run: Any, tqdm: bool = True) -> Any:
    """Reads the run's events to the end, showing overall progress and the
    progress of each node that runs; returns the run's report."""
    if not tqdm:
        return _follow_plain(run)
    try:
        from tqdm.auto import tqdm as make_bar
    except ImportError:
        raise ImportError(
            "run.progress(tqdm=True) needs tqdm: pip install tqdm "
            "(or call run.progress(tqdm=False) for plain lines)"
        ) from None
    running: Dict[str, float] = {}
    with make_bar(total=100, desc=f"run {run.id}", unit="%", bar_format=_BAR) as bar:
        for event in run.events():
            kind = event.type
            if kind == "node_started":
                running[event.node] = 0.0
            elif kind == "node_progress":
                running[event.node] = event.progress
            elif kind in _NODE_ENDS:
                running.pop(event.node, None)
            overall = event.to_dict().get("overall")
            if overall is not None:
                bar.n = round(overall * 100, 1)
            if kind in ("run_completed", "run_failed", "run_cancelled"):
                bar.set_postfix_str(kind[len("run_"):], refresh=False)
            else:
                bar.set_postfix_str(_nodes_line(running), refresh=False)
            bar.refresh()
    return run.wait()


_BAR = "{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}"


def _nodes_line(running: Dict[str, float]) -> str:
    shown = [f"{node} {progress:.0%}" for node, progress in list(running.items())[:4]]
    more = len(running) - len(shown)
    return " · ".join(shown) + (f" +{more}" if more > 0 else "")


def _follow_plain(run: Any) -> Any:
    for event in run.events():
        if event.type in ("node_completed", "node_failed", "node_cached", "node_skipped"):
            overall = event.to_dict().get("overall", 0.0)
            print(f"{overall:4.0%} {event.type[len('node_'):]} {event.node}", file=sys.stderr)
    return run.wait()
