"""The training engine: pure torch (no Redis, SQL or FastAPI imports)."""
