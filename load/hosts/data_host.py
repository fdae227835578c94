"""The data host's services (load/hosts/cluster.py): Redis, the artifact store
(moto's S3 server) and a private PostgreSQL cluster, as the argv each is
started with and the steps that prepare them."""

import os
import pwd
import shutil
import sys
from pathlib import Path

import httpx

from load.hosts.netns import Host

# moto accepts any credentials; they travel as botocore finds them (the
# environment), not in ESPER_ARTIFACT_OPTIONS (docs/artifacts.md).
S3_KEY, S3_SECRET, S3_REGION = "esper-hosts", "esper-hosts-secret", "us-east-1"
BUCKET = "esper"
REDIS_PORT, POSTGRES_PORT, S3_PORT = 6379, 5432, 5000


def postgres_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian's layout), if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: (
            int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def postgres_unavailable() -> str | None:
    """Why a private PostgreSQL cannot run here, or None."""
    if postgres_bindir() is None:
        return "no PostgreSQL server binaries (initdb, postgres)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no `postgres` user to run the server as"
    return None


def redis_argv(address: str) -> list[str]:
    return [
        "redis-server",
        "--bind",
        address,
        "--port",
        str(REDIS_PORT),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
    ]


def s3_argv(address: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "moto.server",
        "-H",
        address,
        "-p",
        str(S3_PORT),
    ]


def init_postgres(data_host: Host, pg_bin: Path, pg_dir: Path) -> Path:
    """initdb a cluster under `pg_dir` (which the postgres user is given) that
    trusts the hosts' subnet; its data folder."""
    user = pwd.getpwnam("postgres")
    os.chown(pg_dir, user.pw_uid, user.pw_gid)
    data = pg_dir / "data"
    data_host.run(
        [
            str(pg_bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        user="postgres",
    )
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {data_host.address.rsplit('.', 1)[0]}.0/24 trust\n")
    return data


def postgres_argv(pg_bin: Path, data: Path, address: str, pg_dir: Path) -> list[str]:
    return [
        str(pg_bin / "postgres"),
        "-D",
        str(data),
        "-c",
        f"listen_addresses={address}",
        "-c",
        f"port={POSTGRES_PORT}",
        "-c",
        f"unix_socket_directories={pg_dir}",
        # A test database: durability is not what is tested here.
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
    ]


def createdb_argv(pg_bin: Path, address: str) -> list[str]:
    return [
        str(pg_bin / "createdb"),
        "-h",
        address,
        "-p",
        str(POSTGRES_PORT),
        "-U",
        "postgres",
        "esper",
    ]


def create_bucket(endpoint: str, bucket: str) -> None:
    # moto does not check signatures: a plain PUT creates the bucket.
    response = httpx.put(f"{endpoint}/{bucket}", timeout=10)
    response.raise_for_status()
