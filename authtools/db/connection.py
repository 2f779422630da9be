"""Whether a database answers, said in one line that names the alias and the server."""

from __future__ import annotations

from typing import Any


def describe_server(settings_dict: dict[str, Any]) -> str:
    """'postgresql database 'shop' on 127.0.0.1:5432 as 'postgres'' or 'sqlite3 file '/x.db''."""
    engine = str(settings_dict.get("ENGINE", "")).rsplit(".", 1)[-1]
    name = settings_dict.get("NAME")
    if engine == "sqlite3":
        return f"sqlite3 file {str(name)!r}"
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT")
    server = f"{host}:{port}" if port else str(host)
    user = settings_dict.get("USER")
    as_user = f" as {user!r}" if user else ""
    return f"{engine} database {name!r} on {server}{as_user}"


def connection_problem(database: str) -> str | None:
    """None when DATABASE answers; else "Cannot connect to the database 'default' (server):
    driver message" on one line."""
    from django.db import connections

    connection = connections[database]
    try:
        connection.ensure_connection()
    except Exception as exc:  # any driver error: bad host, password, database name, driver
        detail = " ".join(str(exc).split()) or type(exc).__name__
        return (
            f"Cannot connect to the database {database!r} "
            f"({describe_server(connection.settings_dict)}): {detail}"
        )
    return None
