"""A model row as a plain INSERT, for the few writes that travel in one round trip with others.

The SCEP service stores a certificate, its registration step and its audit event in one
message to PostgreSQL: under load every round trip costs a worker a context switch and a cold
cache, about as much CPU as an RSA signature.
"""

from __future__ import annotations

from django.db import connection, models


def insert(obj: models.Model, *, returning: str = "",
           expressions: dict[str, str] | None = None) -> tuple[str, list]:
    """``INSERT`` of the unsaved ``obj`` with its values prepared as ``save()`` would prepare
    them (``auto_now_add`` filled in on ``obj``, JSON, binary, time zones). ``expressions``
    replaces the value of the named fields with SQL (no parameters)."""
    expressions = expressions or {}
    quote = connection.ops.quote_name
    fields = [field for field in obj._meta.concrete_fields if not field.primary_key]
    columns, values, params = [], [], []
    for field in fields:
        columns.append(quote(field.column))
        value = field.pre_save(obj, add=True)
        if field.name in expressions:
            values.append(expressions[field.name])
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(value, connection))
    # Table and column names come from the model; every value is a bound parameter.
    sql = (f"INSERT INTO {quote(obj._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
           f"VALUES ({', '.join(values)})")
    return (f"{sql} RETURNING {returning}" if returning else sql), params
