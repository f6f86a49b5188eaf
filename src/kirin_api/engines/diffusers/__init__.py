"""The GPU engine: open-weight Wan video models through diffusers (docs/gpu-engine.md)."""
