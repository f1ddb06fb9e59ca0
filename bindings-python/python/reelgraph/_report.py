"""The report a run ends with, as a dict that shows itself in Jupyter."""

from html import escape
from typing import Any


class RunReport(dict):
    """A run's report: a dict equal to the core's JSON (``run_id``,
    ``canvas_id``, ``status``, ``stats``, ``outputs`` by node, ``errors`` by
    node); in a notebook it shows as a table."""

    def _repr_html_(self) -> str:
        stats = self.get("stats", {})
        counts = ", ".join(
            f"{name} {stats[name]}"
            for name in ("tasks", "executed", "cache_hits", "failed", "cancelled", "skipped")
            if name in stats
        )
        rows = [
            f"<tr><td><code>{escape(node)}</code></td><td>ok</td>"
            f"<td>{escape(_outputs_line(outputs))}</td></tr>"
            for node, outputs in self.get("outputs", {}).items()
        ]
        rows += [
            f"<tr><td><code>{escape(node)}</code></td><td>{escape(error.get('kind', ''))}</td>"
            f"<td>{escape(error.get('message', ''))}</td></tr>"
            for node, error in self.get("errors", {}).items()
        ]
        return (
            f"<p>run <code>{escape(str(self.get('run_id', '')))}</code> of "
            f"<code>{escape(str(self.get('canvas_id', '')))}</code>: "
            f"<b>{escape(str(self.get('status', '')))}</b> ({escape(counts)}, "
            f"{stats.get('duration_ms', 0)} ms)</p>"
            "<table><thead><tr><th>node</th><th>result</th><th>outputs or error</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )


def _outputs_line(outputs: Any) -> str:
    """Ports and a short view of each value (a file path where there is one)."""
    if not isinstance(outputs, dict):
        return str(outputs)
    parts = []
    for port, value in outputs.items():
        if isinstance(value, dict) and "path" in value:
            value = value["path"]
        text = str(value)
        parts.append(f"{port}: {text if len(text) <= 60 else text[:57] + '...'}")
    return "; ".join(parts)
