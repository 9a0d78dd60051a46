"""The backup and restore of docs/operations.md, done as written (issue 18): `pg_dump -Fc` of
a demo database with an attachment, a copy of the attachments folder, `pg_restore --clean
--if-exists` into an empty database, `hotline db upgrade`; then every table holds what it
held, the app signs a user in and serves the attachment's bytes from the restored copy."""

import hashlib
import io
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from tests.conftest import SKIP_PG

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(SKIP_PG, reason="HOTLINE_TEST_SKIP_POSTGRES=1"),
]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    names = [f"hotline_backup_{uuid.uuid4().hex[:8]}_{kind}" for kind in ("live", "restored")]
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    urls = [
        sa.make_url(PG_URL).set(database=n).render_as_string(hide_password=False) for n in names
    ]
    try:
        yield urls[0], urls[1]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _libpq(url: str) -> str:
    """The URL as pg_dump and pg_restore take it (no SQLAlchemy driver name)."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _hotline(instance: Path, url: str, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env |= {
        "HOTLINE_DATABASE__URL": url,
        "HOTLINE_INSTANCE_PATH": str(instance),
        "HOTLINE_REDIS__URL": os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            return {
                t: int(conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one())
                for t in tables
            }
    finally:
        engine.dispose()


def test_a_backup_restores_into_an_empty_database_and_a_copied_folder(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    live_url, restored_url = databases
    live, restored = tmp_path / "live", tmp_path / "restored"
    _hotline(live, live_url, "demo", "--no-serve")  # migrates, loads the demo city

    from dispatch.tickets.attachments import add_attachment
    from hotline.bootstrap import bootstrap
    from hotline.demo import DEMO_PASSWORD
    from infra.settings import load_settings
    from kernel.actor import Actor
    from kernel.roles import Role

    def container(instance: Path, url: str) -> object:
        os.environ["HOTLINE_DATABASE__URL"] = url
        os.environ["HOTLINE_INSTANCE_PATH"] = str(instance)
        try:
            return bootstrap(load_settings(ROOT / "config.yaml"))
        finally:
            del os.environ["HOTLINE_DATABASE__URL"], os.environ["HOTLINE_INSTANCE_PATH"]

    from PIL import Image

    buffer = io.BytesIO()
    Image.frombytes("RGB", (16, 16), os.urandom(16 * 16 * 3)).save(buffer, "PNG")
    photo = buffer.getvalue()
    live_app = container(live, live_url)
    try:
        with live_app.uow() as uow:  # type: ignore[attr-defined]
            ticket_id = uow.session.execute(sa.text("SELECT min(id) FROM tickets")).scalar_one()
        kept = add_attachment(
            live_app.uow(),  # type: ignore[attr-defined]
            live_app.attachments,  # type: ignore[attr-defined]
            Actor(user_id=None, role=Role.ADMIN),
            ticket_id,
            "现场照片.png",
            photo,
        )
    finally:
        live_app.close()  # type: ignore[attr-defined]

    # The backup, as docs/operations.md says.
    dump = tmp_path / "hotline.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), _libpq(live_url)], check=True)
    shutil.copytree(live / "attachments", restored / "attachments")
    # The restore into an empty database, then the migration (a no-op on the same version).
    subprocess.run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "-d",
            _libpq(restored_url),
            str(dump),
        ],
        check=True,
    )
    _hotline(restored, restored_url, "db", "upgrade")

    before, after = _counts(live_url), _counts(restored_url)
    assert before["tickets"] > 100 and before["ticket_events"] > before["tickets"]
    assert after == before

    # The restored system at work: a demo user signs in and downloads the photo.
    from hotline.app import create_app

    restored_app = container(restored, restored_url)
    try:
        client = create_app(container=restored_app).test_client()  # type: ignore[arg-type]
        signed = client.post(
            "/api/auth/login", json={"username": "operator1", "password": DEMO_PASSWORD}
        )
        assert signed.status_code == 200, signed.get_json()
        with client.get(kept["url"]) as got:
            assert got.status_code == 200
            assert hashlib.sha256(got.data).digest() == hashlib.sha256(photo).digest()
    finally:
        restored_app.close()  # type: ignore[attr-defined]
