"""The HTTP API (FastAPI): thin, one core call per route. The contract is ../shared/spec/api.md."""
