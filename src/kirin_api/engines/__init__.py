"""Engines: the ``Engine`` protocol and its implementations (``preview`` on CPU)."""

from kirin_api.engines.base import (
    AudioTrack,
    Engine,
    Frame,
    RenderCancelled,
    RenderControl,
    RenderOutput,
)

__all__ = ["AudioTrack", "Engine", "Frame", "RenderCancelled", "RenderControl", "RenderOutput"]
