"""Alembic migrations of the cloud's database, shipped inside the package (see `cloud.db.migrate`)."""
