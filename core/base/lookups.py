"""Finding a row by an id a caller typed: a malformed id and a missing row are both NotFound,
named by the field (`token: no token with id ...`)."""

from __future__ import annotations

import uuid
from typing import TypeVar

import sqlalchemy.orm as so

from core.base.errors import NotFound

Row = TypeVar("Row")


def get_by_id(session: so.Session, model: type[Row], raw_id: object, field: str, noun: str) -> Row:
    try:
        key = uuid.UUID(str(raw_id).strip())
    except ValueError:
        raise NotFound(f"{field}: {raw_id!r} is not {noun} id") from None
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"{field}: no {noun.split(' ', 1)[-1]} with id {raw_id}")
    return row
