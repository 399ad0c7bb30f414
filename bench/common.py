"""What several benchmarks share: a PostgreSQL schema of their own for one run, and the
comma lists their options take. Imported as `bench.common` (each script puts the
repository on sys.path)."""

from __future__ import annotations

import uuid


def postgres_schema(url: str) -> tuple[str, str]:
    """A new schema on the given database: (its name, a URL whose search_path is it)."""
    from sqlalchemy import create_engine, text

    schema = "bench_" + uuid.uuid4().hex[:10]
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return schema, f"{url}{separator}options=-csearch_path%3D{schema}"


def drop_schema(url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def numbers(text: str) -> list[int]:
    """ "1,8,32" as [1, 8, 32]."""
    return [int(part) for part in text.split(",") if part.strip()]
