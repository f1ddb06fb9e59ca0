"""Shared fixtures: the repository's test data and a small canvas."""

from pathlib import Path

import pytest

import reelgraph

#: The repository root (the tests read the core's fixtures and vectors).
ROOT = Path(__file__).resolve().parents[2]


def shot_and_frame_ops():
    """A shot feeding an image node: three ops, one edge."""
    return [
        {"op": "add_node", "id": "shot_1", "type": "shot",
         "properties": {"number": 1, "prompt": "Mara at the window, rain"}},
        {"op": "add_node", "id": "frame_1", "type": "image_gen", "properties": {"seed": 42}},
        {"op": "connect", "id": "e1", "source": {"node": "shot_1", "port": "shot"},
         "target": {"node": "frame_1", "port": "shot"}},
    ]


@pytest.fixture
def canvas():
    """A canvas with a shot connected to an image node (revision 1)."""
    canvas = reelgraph.Canvas("teaser", "Teaser")
    canvas.apply(shot_and_frame_ops())
    return canvas
