"""Brings the MLflow backend store to the schema this image expects, before the server starts.

An existing store is upgraded with `mlflow db upgrade` (MLflow refuses to serve an out-of-date schema).
An empty database is initialized here rather than by the server; an advisory lock keeps replicas that start
together from racing on either. The
database password reaches libpq through PGPASSWORD (a Secret reference); the URI holds none.
"""
import os
import subprocess
import sys
import time

import sqlalchemy
from sqlalchemy.exc import OperationalError

uri = os.environ["MLFLOW_BACKEND_STORE_URI"]
engine = sqlalchemy.create_engine(uri)
for attempt in range(60):
    try:
        with engine.connect():
            break
    except OperationalError as err:
        print("waiting for the database ({}/60): {}".format(attempt + 1, str(err).splitlines()[0]), flush=True)
        time.sleep(5)
else:
    sys.exit("the database at {} did not accept a connection in 5 minutes".format(engine.url.render_as_string(hide_password=True)))

# Replicas start together: one migrates while the others wait on a Postgres advisory lock, then find nothing to do.
LOCK_ID = 0x6D6C666C  # "mlfl"
with engine.connect() as lock:
    lock.execute(sqlalchemy.text("SELECT pg_advisory_lock(:id)"), {"id": LOCK_ID})
    try:
        if sqlalchemy.inspect(engine).has_table("alembic_version"):
            print("upgrading the MLflow schema", flush=True)
            status = subprocess.call(["mlflow", "db", "upgrade", uri])
        else:
            print("empty database: creating the MLflow schema", flush=True)
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            SqlAlchemyStore(uri, "mlflow-artifacts:/")
            print("schema created", flush=True)
            status = 0
    finally:
        lock.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID})
sys.exit(status)
