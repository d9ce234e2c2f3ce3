"""syncd's sync state: id links, cursors, rejected records and runs (SQLModel; SQLite or PostgreSQL)."""

from state.store import StateStore

__all__ = ["StateStore"]
