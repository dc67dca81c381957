"""Data made safe for JSON: no NaN or infinity, and exact text for what JSON has no type for.

A module of its own, not core.record.activity (which stores such data in the activity log), because the
command line prints everything through `finite` and must not import the ORM models to do so.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact; percentages are passed as numbers already by callers
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def finite(data: Any) -> Any:
    """`data` with every NaN or infinite float made None: JSON has no such numbers (Python
    would print `Infinity`, which no JSON reader takes, and PostgreSQL's jsonb refuses it)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def jsonable(data: Any) -> Any:
    """Plain JSON types only: Decimal as exact text, datetimes as ISO 8601, UUIDs as text."""
    return json.loads(json.dumps(finite(data), default=_json_default, allow_nan=False))
