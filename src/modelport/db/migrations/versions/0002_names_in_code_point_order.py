"""names in code point order on PostgreSQL

Listings page by name with `name > marker`. On PostgreSQL the columns used the database's collation
(en-US sorts 'a' before 'B'), so the service compared in COLLATE "C" and no index could serve it. With
the columns themselves in "C", the unique (owner, name) and (collection, name) indexes serve both the
order and the marker. SQLite already compares bytes, which for UTF-8 is code point order.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

COLUMNS = (("users", "username", 64), ("data_collections", "name", 255), ("data_files", "name", 255))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length in COLUMNS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR({length}) COLLATE "C"')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length in COLUMNS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR({length}) COLLATE "default"')
