"""The operator dashboard: a static page served by the gateway (no build step)."""

from app.dashboard.router import STATIC_DIR, mount_dashboard, router

__all__ = ["STATIC_DIR", "mount_dashboard", "router"]
