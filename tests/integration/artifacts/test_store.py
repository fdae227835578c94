"""The artifact store, written by the worker's side and read by the gateway's,
on a local directory and on a real S3-compatible server (moto, over HTTP
through s3fs and botocore): the same tests over both backends."""

import hashlib
import os
from pathlib import Path

import pytest

from api_schemas import artifacts as layout
from api_schemas.artifacts import ArtifactKind
from app.artifacts.store import ArtifactReader, chunks
from tests.fixtures.s3 import StoreLocation
from workers.artifacts.store import ArtifactError, ArtifactStore

RUN = "run-1"


def stores(where: StoreLocation) -> tuple[ArtifactStore, ArtifactReader]:
    return ArtifactStore(where.url, where.options), ArtifactReader(
        where.url, where.options
    )


def a_file(tmp_path: Path, name: str, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


def test_an_upload_is_listed_and_read_back_whole_and_in_ranges(
    artifact_store: StoreLocation, tmp_path: Path
) -> None:
    writer, reader = stores(artifact_store)
    source, data = a_file(tmp_path, "model.safetensors", 3_000_000)
    stored = writer.upload(
        RUN, source, name="model.safetensors", kind=ArtifactKind.model, step=7
    )
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.bytes == len(data)
    assert [m.name for m in reader.manifests(RUN)] == ["model.safetensors"]
    assert reader.manifest(RUN, "model.safetensors") == stored
    assert writer.manifests(RUN) == [stored]
    handle = reader.open(stored)
    assert b"".join(chunks(handle, 0, stored.bytes)) == data
    assert (
        b"".join(chunks(reader.open(stored), 1_234_567, 10))
        == data[1_234_567:1_234_577]
    )
    fetched = tmp_path / "fetched"
    writer.download(stored, fetched)
    assert fetched.read_bytes() == data


def test_content_without_its_manifest_is_not_an_artifact(
    artifact_store: StoreLocation, tmp_path: Path
) -> None:
    """An upload interrupted before its manifest (the worker died) is invisible."""
    writer, reader = stores(artifact_store)
    content = writer.path(layout.content_path(RUN, "half.bin"))
    writer.fs.makedirs(content.rsplit("/", 1)[0], exist_ok=True)
    writer.fs.pipe_file(content, b"x" * 10)
    assert reader.manifests(RUN) == [] and reader.names(RUN) == set()
    assert reader.manifest(RUN, "half.bin") is None


def test_delete_removes_the_manifest_then_the_content(
    artifact_store: StoreLocation, tmp_path: Path
) -> None:
    writer, reader = stores(artifact_store)
    for name in ("ckpt-000000010.pt", "ckpt-000000020.pt"):
        source, _ = a_file(tmp_path, name, 1000)
        writer.upload(RUN, source, name=name, kind=ArtifactKind.checkpoint, step=10)
    writer.delete(RUN, "ckpt-000000010.pt")
    linked = writer.upload(
        RUN, source, name="ckpt-000000030.pt", kind=ArtifactKind.checkpoint, link=True
    )
    assert linked.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    writer.delete(RUN, "ckpt-000000030.pt")
    assert source.exists()  # the store's name goes, the worker's file stays
    assert reader.names(RUN) == {"ckpt-000000020.pt"}
    assert not writer.fs.exists(
        writer.path(layout.content_path(RUN, "ckpt-000000010.pt"))
    )


def test_a_file_that_differs_from_the_engines_checksum_is_never_published(
    artifact_store: StoreLocation, tmp_path: Path
) -> None:
    writer, reader = stores(artifact_store)
    source, _ = a_file(tmp_path, "ckpt-000000001.pt", 100)
    for link in (False, True):  # copied, or linked into a local store
        with pytest.raises(ArtifactError, match="sha256"):
            writer.upload(
                RUN,
                source,
                name="ckpt-000000001.pt",
                kind=ArtifactKind.checkpoint,
                expected_sha256="0" * 64,
                link=link,
            )
    assert reader.manifests(RUN) == []


def test_an_upload_under_a_used_name_replaces_it(
    artifact_store: StoreLocation, tmp_path: Path
) -> None:
    writer, reader = stores(artifact_store)
    first, _ = a_file(tmp_path, "a", 100)
    second, data = a_file(tmp_path, "b", 200)
    writer.upload(RUN, first, name="report.json", kind=ArtifactKind.report)
    stored = writer.upload(RUN, second, name="report.json", kind=ArtifactKind.report)
    assert reader.manifests(RUN) == [stored] and stored.bytes == 200
    assert b"".join(chunks(reader.open(stored), 0, 200)) == data


def test_a_download_that_does_not_match_its_manifest_fails(
    artifact_store: StoreLocation, tmp_path: Path
) -> None:
    writer, _ = stores(artifact_store)
    source, _ = a_file(tmp_path, "x", 100)
    stored = writer.upload(RUN, source, name="x.bin", kind=ArtifactKind.report)
    writer.fs.pipe_file(writer.path(layout.content_path(RUN, "x.bin")), b"y" * 100)
    dest = tmp_path / "dest"
    with pytest.raises(ArtifactError, match="manifest"):
        writer.download(stored, dest)
    assert not dest.exists()


def test_runs_are_kept_apart_and_bad_names_refused(
    artifact_store: StoreLocation, tmp_path: Path
) -> None:
    writer, reader = stores(artifact_store)
    source, _ = a_file(tmp_path, "x", 10)
    writer.upload(
        "run-a", source, name="ckpt-000000005.pt", kind=ArtifactKind.checkpoint
    )
    writer.upload(
        "run-b", source, name="ckpt-000000005.pt", kind=ArtifactKind.checkpoint
    )
    assert reader.names("run-a") == reader.names("run-b") == {"ckpt-000000005.pt"}
    assert reader.names("run-c") == set()
    for bad in ("../run-b/x", ".hidden", "a/b", ""):
        assert reader.manifest("run-a", bad) is None
        with pytest.raises(ArtifactError):
            writer.upload("run-a", source, name=bad, kind=ArtifactKind.report)
