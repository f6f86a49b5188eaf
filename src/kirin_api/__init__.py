"""kirin-api: a self-hosted server for the Kirin video-generation API."""

__version__ = "0.1.0"
