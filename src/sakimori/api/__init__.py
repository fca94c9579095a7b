"""The platform service: a REST API over the services (FastAPI; docs/api.md)."""

from sakimori.api.app import create_app

__all__ = ["create_app"]
