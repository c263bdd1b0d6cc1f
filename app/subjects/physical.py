"""What makes a removal physical once it is committed.

SQLite overwrites deleted content with zeros (`secure_delete`, set on every connection by
app.db); a checkpoint then copies the WAL into the database file and truncates it, so that
no older copy of a page survives in the WAL. PostgreSQL keeps deleted rows as dead tuples
until a VACUUM reuses their space, and in its WAL and backups until they age out: `vacuum`
runs VACUUM on the tables a removal touched, outside any transaction.
"""

from sqlalchemy import Engine, text

from app.forgetting import Kind


def checkpoint(engine: Engine) -> bool | None:
    """SQLite: checkpoint and truncate the WAL; whether it completed (a reader may hold it).
    None on other databases."""
    if engine.dialect.name != "sqlite":
        return None
    with engine.connect() as connection:
        busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    return bool(busy == 0)


def vacuum(engine: Engine, kinds: list[Kind]) -> bool:
    """PostgreSQL: VACUUM the tables of `kinds`; whether it ran (not on SQLite, where the
    deleted content is already overwritten)."""
    if engine.dialect.name != "postgresql":
        return False
    tables = ", ".join(dict.fromkeys(kind.table.name for kind in kinds))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM {tables}"))
    return True
