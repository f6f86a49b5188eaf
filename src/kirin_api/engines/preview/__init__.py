"""The preview engine: CPU, deterministic, prompt-dependent scenery with a virtual camera."""

from kirin_api.engines.preview.engine import PreviewEngine

__all__ = ["PreviewEngine"]
