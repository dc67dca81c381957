"""db.tables: the Core view of a table names columns the model has, with the model's types."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from db import models
from db.tables import ALLOCATION_LOG


@pytest.mark.parametrize("column", ALLOCATION_LOG.c, ids=lambda c: c.name)
def test_each_column_of_the_core_view_is_the_models_column_with_its_type(column):
    model = models.AllocationLog.__table__.c[column.name]
    assert type(column.type) is type(model.type)
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        assert column.type.compile(dialect) == model.type.compile(dialect)
