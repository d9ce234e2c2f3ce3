"""syncd's sync state: id links, outcomes, cursors, rejected records, runs and the lease
(SQLModel; SQLite or PostgreSQL). It imports nothing of syncd's but ``syncd.core``."""

from state.store import StateStore

__all__ = ["StateStore"]
