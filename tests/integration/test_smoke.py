from core.allocations import get_current_allocation


def test_a_new_database_has_the_default_split_active(db):
    current = get_current_allocation(db)
    assert current.source == "database"
    assert current.split.label() == "80/15/3/2"
