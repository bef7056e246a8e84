"""A model row as a plain INSERT, for the few writes that travel in one statement with others.

The SCEP depot stores a certificate, spends its challenge, advances its registration and
audits it in one statement to PostgreSQL: under load every round trip costs a worker a context
switch and a cold cache, about as much CPU as an RSA signature.
"""

from __future__ import annotations

from django.db import connection, models


def insert(obj: models.Model, *, returning: str = "", source: str = "",
           expressions: dict[str, str] | None = None) -> tuple[str, list]:
    """``INSERT`` of the unsaved ``obj`` with its values prepared as ``save()`` would prepare
    them (``auto_now_add`` filled in on ``obj``, JSON, binary, time zones). ``expressions``
    replaces the value of the named fields with SQL, where ``%s`` stands for the field's own
    value. With ``source`` (a table or CTE name) the row is ``SELECT``ed from it: one row per
    row of ``source``, and the expressions may name its columns."""
    expressions = expressions or {}
    quote = connection.ops.quote_name
    fields = [field for field in obj._meta.concrete_fields if not field.primary_key]
    columns, values, params = [], [], []
    for field in fields:
        columns.append(quote(field.column))
        value = field.pre_save(obj, add=True)
        expression = expressions.get(field.name, "%s")
        values.append(expression)
        params.extend([field.get_db_prep_save(value, connection)] * expression.count("%s"))
    # Table and column names come from the model; every value is a bound parameter.
    rows = (f"SELECT {', '.join(values)} FROM {source}" if source  # noqa: S608
            else f"VALUES ({', '.join(values)})")
    sql = f"INSERT INTO {quote(obj._meta.db_table)} ({', '.join(columns)}) {rows}"
    return (f"{sql} RETURNING {returning}" if returning else sql), params
