"""modelport: continuous deployment of ML models, wire-compatible with Algorithmia's v1 API."""

__version__ = "0.1.0"
