"""Brings the MLflow backend store to the schema this image expects, before the server starts.

With basic-auth on (MLFLOW_AUTH_CONFIG_PATH set), it also migrates the auth tables (they live in the same database,
versioned in their own `alembic_version_auth`) and brings each user listed in CD4ML_AUTH_USERS (names of the env
variables holding its name and password, never a value) in line with its Secret: created when missing, its password
and admin flag set otherwise, so rotating a Secret and restarting the server rotates the password. A declared user
that is no longer declared is deleted, so a revoked grant stops working at the next start; users made in MLflow's own
UI under other names are left alone.

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

def sync_users(db_uri):
    """Users as declared: each one created or brought in line; one it manages and no longer declared, deleted.

    The names it manages are kept in its own table: every user it has been told to declare, whether it created it
    or found it (made by an earlier cd4ml, or in MLflow's UI under the same name). From then on that user's password
    follows its Secret, and revoking the grant deletes it. A user made in the UI under another name is never touched.
    """
    import json

    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore as AuthStore

    auth = AuthStore()
    auth.init_db(db_uri)  # creates or upgrades the auth tables
    declared = json.loads(os.environ.get("CD4ML_AUTH_USERS", "[]"))
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE IF NOT EXISTS cd4ml_managed_users (username VARCHAR(255) PRIMARY KEY)"))
        managed = {row[0] for row in conn.execute(sqlalchemy.text("SELECT username FROM cd4ml_managed_users"))}
    names = set()
    for user in declared:
        name, password = os.environ[user["usernameEnv"]], os.environ[user["passwordEnv"]]
        names.add(name)
        if auth.has_user(name):
            auth.update_user(name, password=password, is_admin=user["admin"])
            print("kept MLflow user {}{}".format(name, " (admin)" if user["admin"] else ""), flush=True)
        else:
            auth.create_user(name, password, is_admin=user["admin"])
            print("created MLflow user {}{}".format(name, " (admin)" if user["admin"] else ""), flush=True)
        if name not in managed:
            with engine.begin() as conn:
                conn.execute(sqlalchemy.text("INSERT INTO cd4ml_managed_users (username) VALUES (:n)"), {"n": name})
    for name in sorted(managed - names):
        # its Secret is gone from the declaration: its password must stop working
        if auth.has_user(name):
            auth.delete_user(name)
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("DELETE FROM cd4ml_managed_users WHERE username = :n"), {"n": name})
        print("deleted MLflow user {} (no longer granted)".format(name), flush=True)


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
        if status == 0 and os.environ.get("MLFLOW_AUTH_CONFIG_PATH"):
            sync_users(uri)
    finally:
        lock.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:id)"), {"id": LOCK_ID})
sys.exit(status)
