"""Retention, legal hold and destruction: the storage-level half of issue 5.

The contract part runs on the filesystem store (which enforces the rules
itself) and on the MinIO store against a real moto S3 server with Object Lock
(where the server enforces them); the S3 part then checks versions, delete
markers, unfinished uploads and the server's own refusals.  Nothing is mocked.
"""

from __future__ import annotations

import io
import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from storage import (
    BlobNotFound,
    BlobStore,
    FilesystemStore,
    InvalidKey,
    LockNotSupported,
    ObjectLocked,
    RetentionInfo,
    RetentionViolation,
    StorageUnavailable,
    make_store,
    normalize_retain_until,
)
from storage.filesystem import META_DIR
from storage.minio_store import MinioStore

DAY = timedelta(days=1)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def days_ahead(n: int) -> datetime:
    """A whole-second aware UTC datetime ``n`` days from now."""
    return (utcnow() + n * DAY).replace(microsecond=0)


def read_all(store: BlobStore, key: str) -> bytes:
    with store.open(key) as f:
        return f.read()


def assert_nothing_left(store: BlobStore, key: str) -> None:
    """No byte of ``key`` can be read back from the store, in any form."""
    assert not store.exists(key)
    assert key not in list(store.keys())
    with pytest.raises(BlobNotFound):
        store.open(key)
    with pytest.raises(BlobNotFound):
        store.retention(key)
    if isinstance(store, FilesystemStore):
        assert not os.path.lexists(store.root.joinpath(*key.split("/")))
        assert not os.path.lexists(store.root.joinpath(META_DIR, *key.split("/")))
    if isinstance(store, MinioStore):
        versions = list(store.client.list_objects(store.bucket, prefix=key, include_version=True))
        assert [v for v in versions if v.object_name == key] == []


@pytest.fixture(params=["fs", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """Each contract test runs once per backend (S3: fresh Object Lock bucket)."""
    if request.param == "fs":
        yield make_store({"STORAGE_BACKEND": "fs", "STORAGE_DIR": str(tmp_path / "blobs")})
    else:
        settings: dict[str, Any] = request.getfixturevalue("s3_settings")
        yield make_store(settings)


@pytest.fixture
def s3(s3_settings: dict[str, Any]) -> MinioStore:
    store = make_store(s3_settings)
    assert isinstance(store, MinioStore)
    return store


# --------------------------------------------------------------------------
# contract: both backends
# --------------------------------------------------------------------------


def test_lock_supported(store: BlobStore) -> None:
    assert store.lock_supported() is True


def test_new_blob_is_not_locked(store: BlobStore) -> None:
    store.put("r/1.pdf", io.BytesIO(b"content"))
    info = store.retention("r/1.pdf")
    assert info == RetentionInfo(until=None, legal_hold=False)
    assert not info.locked()


def test_missing_key(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.retention("nope")
    with pytest.raises(BlobNotFound):
        store.set_retention("nope", days_ahead(10))
    with pytest.raises(BlobNotFound):
        store.set_legal_hold("nope", True)


def test_invalid_keys(store: BlobStore) -> None:
    for call in (
        lambda: store.retention("../x"),
        lambda: store.set_retention("a//b", days_ahead(1)),
        lambda: store.set_legal_hold("/abs", True),
        lambda: store.destroy(".tmp/x", bypass_governance=True),
    ):
        with pytest.raises(InvalidKey):
            call()


def test_retention_needs_an_aware_datetime(store: BlobStore) -> None:
    store.put("k", io.BytesIO(b"x"))
    with pytest.raises(TypeError):
        store.set_retention("k", datetime.now() + DAY)  # naive
    with pytest.raises(TypeError):
        store.set_retention("k", "2099-01-01")  # type: ignore[arg-type]
    assert store.retention("k").until is None


def test_retention_refuses_delete_and_unbypassed_destroy(store: BlobStore) -> None:
    data = b"%PDF contract " * 100
    store.put("c/42/contract.pdf", io.BytesIO(data))
    store.put("c/42/other.pdf", io.BytesIO(b"other"))
    until = days_ahead(30)
    store.set_retention("c/42/contract.pdf", until)
    info = store.retention("c/42/contract.pdf")
    assert info == RetentionInfo(until=until, legal_hold=False)
    assert info.locked()

    with pytest.raises(ObjectLocked) as exc_info:
        store.delete("c/42/contract.pdf")
    assert exc_info.value.key == "c/42/contract.pdf"
    assert not isinstance(exc_info.value, StorageUnavailable)
    with pytest.raises(ObjectLocked):
        store.destroy("c/42/contract.pdf", bypass_governance=False)
    assert read_all(store, "c/42/contract.pdf") == data  # refused means untouched

    store.destroy("c/42/contract.pdf", bypass_governance=True)
    assert_nothing_left(store, "c/42/contract.pdf")
    assert read_all(store, "c/42/other.pdf") == b"other"
    # A resumed destruction run destroys it again: nothing to do, no error.
    store.destroy("c/42/contract.pdf", bypass_governance=True)
    store.destroy("c/42/contract.pdf", bypass_governance=False)
    assert list(store.keys()) == ["c/42/other.pdf"]


def test_legal_hold_blocks_everything_until_lifted(store: BlobStore) -> None:
    store.put("held.pdf", io.BytesIO(b"evidence"))
    store.set_legal_hold("held.pdf", True)
    store.set_legal_hold("held.pdf", True)  # idempotent
    assert store.retention("held.pdf") == RetentionInfo(until=None, legal_hold=True)
    with pytest.raises(ObjectLocked) as exc_info:
        store.delete("held.pdf")
    assert "hold" in str(exc_info.value)
    with pytest.raises(ObjectLocked):
        store.destroy("held.pdf", bypass_governance=False)
    with pytest.raises(ObjectLocked):
        store.destroy("held.pdf", bypass_governance=True)  # no path past a legal hold
    assert read_all(store, "held.pdf") == b"evidence"

    store.set_legal_hold("held.pdf", False)
    assert store.retention("held.pdf") == RetentionInfo(until=None, legal_hold=False)
    store.destroy("held.pdf", bypass_governance=False)  # nothing else protects it
    assert_nothing_left(store, "held.pdf")


def test_hold_and_retention_together(store: BlobStore) -> None:
    store.put("k", io.BytesIO(b"x"))
    until = days_ahead(400)
    store.set_retention("k", until)
    store.set_legal_hold("k", True)
    assert store.retention("k") == RetentionInfo(until=until, legal_hold=True)
    with pytest.raises(ObjectLocked):
        store.destroy("k", bypass_governance=True)
    store.set_legal_hold("k", False)
    assert store.retention("k") == RetentionInfo(until=until, legal_hold=False)  # lifting keeps the date
    with pytest.raises(ObjectLocked):
        store.destroy("k", bypass_governance=False)
    store.destroy("k", bypass_governance=True)
    assert_nothing_left(store, "k")


def test_retention_only_extends(store: BlobStore) -> None:
    store.put("k", io.BytesIO(b"x"))
    first, later = days_ahead(10), days_ahead(20)
    store.set_retention("k", first)
    store.set_retention("k", later)  # disposal date moved out: extended
    assert store.retention("k").until == later
    store.set_retention("k", later)  # same date: no-op
    with pytest.raises(RetentionViolation) as exc_info:
        store.set_retention("k", first)
    assert exc_info.value.current == later
    assert exc_info.value.requested == first
    assert store.retention("k").until == later  # unchanged
    with pytest.raises(RetentionViolation):
        store.set_retention("k", utcnow() - DAY)  # a past date is shorter too


def test_retention_rounds_up_to_whole_seconds(store: BlobStore) -> None:
    store.put("k", io.BytesIO(b"x"))
    until = days_ahead(5) + timedelta(microseconds=1500)
    store.set_retention("k", until)
    stored = store.retention("k").until
    assert stored == normalize_retain_until(until) == until.replace(microsecond=0) + timedelta(seconds=1)
    store.set_retention("k", until)  # the caller's own value is never "shorter" than what was stored
    other_zone = stored.astimezone(timezone(timedelta(hours=8)))
    store.set_retention("k", other_zone)  # same instant in Beijing time: no-op
    assert store.retention("k").until == stored


def test_past_date_sets_nothing(store: BlobStore) -> None:
    store.put("k", io.BytesIO(b"x"))
    store.set_retention("k", utcnow() - 3 * DAY)  # a record already due when stored
    assert store.retention("k").until is None
    store.delete("k")
    assert not store.exists("k")


def test_expired_retention_no_longer_protects(store: BlobStore) -> None:
    # The one test that waits: a real retention date has to pass.
    store.put("k", io.BytesIO(b"x"))
    until = normalize_retain_until(utcnow() + timedelta(seconds=2))
    store.set_retention("k", until)
    with pytest.raises(ObjectLocked):
        store.delete("k")
    time.sleep(max(0.0, (until - utcnow()).total_seconds()) + 0.3)
    info = store.retention("k")
    assert info.until == until and not info.locked()
    store.delete("k")  # and the backend (S3 server / file store) agrees
    assert_nothing_left(store, "k")


def test_keys_never_list_lock_metadata(store: BlobStore) -> None:
    store.put("a/b.pdf", io.BytesIO(b"x"))
    store.put("c.pdf", io.BytesIO(b"y"))
    store.set_retention("a/b.pdf", days_ahead(3))
    store.set_legal_hold("c.pdf", True)
    assert sorted(store.keys()) == ["a/b.pdf", "c.pdf"]
    assert list(store.keys("a/")) == ["a/b.pdf"]
    assert list(store.keys(".")) == []


def test_unlocked_delete_clears_lock_state(store: BlobStore) -> None:
    store.put("k", io.BytesIO(b"one"))
    store.set_legal_hold("k", True)
    store.set_legal_hold("k", False)
    store.delete("k")
    assert_nothing_left(store, "k")
    store.put("k", io.BytesIO(b"two"))  # a new blob under the same key starts unlocked
    assert store.retention("k") == RetentionInfo()
    store.delete("k")


def test_destroy_missing_key_is_not_an_error(store: BlobStore) -> None:
    store.destroy("never/was.pdf", bypass_governance=True)
    store.destroy("never/was.pdf", bypass_governance=False)
    assert_nothing_left(store, "never/was.pdf")


def test_retention_info_locked() -> None:
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert not RetentionInfo().locked(now)
    assert RetentionInfo(legal_hold=True).locked(now)
    assert RetentionInfo(until=now + DAY).locked(now)
    assert not RetentionInfo(until=now).locked(now)
    assert not RetentionInfo(until=now - DAY).locked(now)


# --------------------------------------------------------------------------
# filesystem store: the application enforces the rules
# --------------------------------------------------------------------------


def test_fs_lock_state_is_a_durable_sidecar(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FilesystemStore(root)
    store.put("c/1/a.pdf", io.BytesIO(b"x"))
    until = days_ahead(7)
    store.set_retention("c/1/a.pdf", until)
    sidecar = root / META_DIR / "c" / "1" / "a.pdf"
    doc = json.loads(sidecar.read_text())
    assert doc == {"key": "c/1/a.pdf", "retain_until": until.isoformat(), "legal_hold": False}
    assert list((root / ".tmp").iterdir()) == []  # staged, renamed, nothing left over
    # Another store instance (another process) on the same root sees and enforces it.
    other = FilesystemStore(root)
    assert other.retention("c/1/a.pdf").until == until
    with pytest.raises(ObjectLocked):
        other.delete("c/1/a.pdf")
    other.destroy("c/1/a.pdf", bypass_governance=True)
    assert not sidecar.exists()
    assert_nothing_left(store, "c/1/a.pdf")


def test_fs_unreadable_lock_state_fails_closed(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "blobs")
    store.put("k", io.BytesIO(b"x"))
    store.set_legal_hold("k", True)
    (store.root / META_DIR / "k").write_text("{not json")
    for call in (
        lambda: store.delete("k"),
        lambda: store.destroy("k", bypass_governance=True),
        lambda: store.retention("k"),
    ):
        with pytest.raises(StorageUnavailable):
            call()
    assert read_all(store, "k") == b"x"


def test_fs_resumes_after_crash_between_blob_and_sidecar(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "blobs")
    store.put("k", io.BytesIO(b"x"))
    store.set_retention("k", days_ahead(3))
    sidecar = store.root / META_DIR / "k"
    # Simulate a destroy killed after unlinking the blob, before the sidecar.
    os.unlink(store.root / "k")
    assert sidecar.exists()
    store.destroy("k", bypass_governance=False)  # resumed run: finishes the job
    assert not sidecar.exists()
    # Same crash, then a new blob under the key: it must not inherit the lock.
    store.put("k", io.BytesIO(b"y"))
    store.set_legal_hold("k", True)
    os.unlink(store.root / "k")
    store.put("k", io.BytesIO(b"z"))
    assert store.retention("k") == RetentionInfo()
    store.delete("k")


def test_fs_stale_sidecar_of_a_parent_key(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "blobs")
    store.put("a", io.BytesIO(b"x"))
    store.set_legal_hold("a", True)
    os.unlink(store.root / "a")  # crash: blob "a" gone, its sidecar left
    store.put("a/b", io.BytesIO(b"y"))
    until = days_ahead(2)
    store.set_retention("a/b", until)  # the stale file "a" is in the way of ".meta~/a/b"
    assert store.retention("a/b").until == until


def test_fs_destroy_empties_other_hard_links(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "blobs")
    spool = tmp_path / "spool.part"  # same filesystem: put_file adopts it by hard link
    spool.write_bytes(b"secret scan")
    store.put_file("scan.pdf", spool)
    assert os.stat(spool).st_nlink == 2
    store.set_retention("scan.pdf", days_ahead(1))
    store.destroy("scan.pdf", bypass_governance=True)
    assert_nothing_left(store, "scan.pdf")
    assert spool.read_bytes() == b""  # the shared inode was emptied, not just unlinked


# --------------------------------------------------------------------------
# S3 (moto server with Object Lock): the server enforces the rules
# --------------------------------------------------------------------------


def _versions(store: MinioStore, key: str) -> list:
    return [v for v in store.client.list_objects(store.bucket, prefix=key, include_version=True) if v.object_name == key]


def _head(store: MinioStore, key: str, version_id: str) -> dict[str, str]:
    st = store.client.stat_object(store.bucket, key, version_id=version_id)
    return {k.lower(): v for k, v in st.metadata.items() if "object-lock" in k.lower()}


@pytest.mark.s3
def test_s3_retention_is_set_on_the_server(s3: MinioStore) -> None:
    s3.put("k", io.BytesIO(b"x"))
    until = days_ahead(30)
    s3.set_retention("k", until)
    s3.set_legal_hold("k", True)
    (version,) = _versions(s3, "k")
    head = _head(s3, "k", version.version_id)
    assert head["x-amz-object-lock-mode"] == "GOVERNANCE"
    assert datetime.fromisoformat(head["x-amz-object-lock-retain-until-date"]) == until
    assert head["x-amz-object-lock-legal-hold"] == "ON"
    assert s3.client.is_object_legal_hold_enabled(s3.bucket, "k", version_id=version.version_id)
    # The server itself refuses, whatever the store's own checks say.
    errors = list(s3.client.remove_objects(s3.bucket, [DeleteObject("k", version.version_id)],
                                           bypass_governance_mode=True))
    assert [e.code for e in errors] == ["AccessDenied"]
    s3.set_legal_hold("k", False)
    errors = list(s3.client.remove_objects(s3.bucket, [DeleteObject("k", version.version_id)]))
    assert [e.code for e in errors] == ["AccessDenied"]
    assert read_all(s3, "k") == b"x"


@pytest.mark.s3
def test_s3_server_refusal_is_object_locked(s3: MinioStore, monkeypatch: pytest.MonkeyPatch) -> None:
    s3.put("k", io.BytesIO(b"x"))
    s3.set_retention("k", days_ahead(3))
    # Blind the store's own pre-check: the 403 from the server must still
    # surface as ObjectLocked (not StorageUnavailable) and leave the object.
    monkeypatch.setattr(s3, "_lock_states", lambda key, versions: [])
    with pytest.raises(ObjectLocked) as exc_info:
        s3.delete("k")
    assert "AccessDenied" in str(exc_info.value)
    with pytest.raises(ObjectLocked):
        s3.destroy("k", bypass_governance=False)
    assert read_all(s3, "k") == b"x"
    monkeypatch.undo()
    s3.set_legal_hold("k", True)
    monkeypatch.setattr(s3, "_lock_states", lambda key, versions: [])
    with pytest.raises(ObjectLocked):
        s3.destroy("k", bypass_governance=True)  # the server's legal hold beats the bypass header
    monkeypatch.undo()
    assert read_all(s3, "k") == b"x"


@pytest.mark.s3
def test_s3_destroy_removes_every_version(s3: MinioStore) -> None:
    s3.put("v", io.BytesIO(b"one"))
    # Older versions and a delete marker, made behind the store's back
    # (write-once is the store's rule, not S3's).
    s3.client.put_object(s3.bucket, "v", io.BytesIO(b"two"), 3)
    s3.client.remove_object(s3.bucket, "v")
    s3.client.put_object(s3.bucket, "v", io.BytesIO(b"three"), 5)
    s3.put("v2", io.BytesIO(b"other"))
    versions = _versions(s3, "v")
    data_ids = [v.version_id for v in versions if not v.is_delete_marker]
    assert len(versions) == 4 and len(data_ids) == 3

    until = days_ahead(60)
    s3.set_retention("v", until)
    for vid in data_ids:  # every version is locked, not only the latest
        assert datetime.fromisoformat(_head(s3, "v", vid)["x-amz-object-lock-retain-until-date"]) == until
    assert s3.retention("v").until == until

    with pytest.raises(ObjectLocked):
        s3.delete("v")
    with pytest.raises(ObjectLocked):
        s3.destroy("v", bypass_governance=False)
    assert len(_versions(s3, "v")) == 4  # refused before anything was removed

    s3.destroy("v", bypass_governance=True)
    assert_nothing_left(s3, "v")
    assert list(s3.client.list_objects(s3.bucket, prefix="v", include_version=True)) != []  # v2 stays
    for vid in data_ids:
        with pytest.raises(S3Error) as exc_info:
            s3.client.get_object(s3.bucket, "v", version_id=vid)
        assert exc_info.value.code in ("NoSuchVersion", "NoSuchKey")
    assert read_all(s3, "v2") == b"other"
    s3.destroy("v", bypass_governance=True)  # twice: fine


@pytest.mark.s3
def test_s3_hold_on_an_old_version_blocks_destroy(s3: MinioStore) -> None:
    s3.put("k", io.BytesIO(b"one"))
    (old,) = _versions(s3, "k")
    s3.client.put_object(s3.bucket, "k", io.BytesIO(b"two"), 3)
    s3.client.enable_object_legal_hold(s3.bucket, "k", version_id=old.version_id)
    assert s3.retention("k").legal_hold  # any held version counts
    with pytest.raises(ObjectLocked):
        s3.destroy("k", bypass_governance=True)
    assert len(_versions(s3, "k")) == 2
    s3.set_legal_hold("k", False)  # lifts it on every version
    s3.destroy("k", bypass_governance=True)
    assert_nothing_left(s3, "k")


@pytest.mark.s3
def test_s3_shortening_is_refused_by_the_store(s3: MinioStore) -> None:
    # moto would accept a shorter governance date without the bypass header
    # (real S3 refuses it); the store checks before sending anything.
    s3.put("k", io.BytesIO(b"x"))
    later = days_ahead(90)
    s3.set_retention("k", later)
    with pytest.raises(RetentionViolation):
        s3.set_retention("k", days_ahead(30))
    (version,) = _versions(s3, "k")
    assert datetime.fromisoformat(_head(s3, "k", version.version_id)["x-amz-object-lock-retain-until-date"]) == later


@pytest.mark.s3
def test_s3_destroy_aborts_unfinished_uploads(s3: MinioStore) -> None:
    s3.put("k", io.BytesIO(b"x"))
    client = s3.client
    upload_id = client._create_multipart_upload(s3.bucket, "k", {"Content-Type": "application/octet-stream"})
    client._upload_part(s3.bucket, "k", b"partial secret bytes", {}, upload_id, 1)

    def uploads() -> list[str]:
        return [u.upload_id for u in client._list_multipart_uploads(s3.bucket, prefix="k").uploads
                if u.object_name == "k"]

    assert uploads() == [upload_id]
    s3.destroy("k", bypass_governance=True)
    assert uploads() == []
    assert_nothing_left(s3, "k")


@pytest.mark.s3
def test_s3_bucket_without_object_lock(s3_settings: dict[str, Any]) -> None:
    store = make_store({**s3_settings, "S3_OBJECT_LOCK": False})
    assert isinstance(store, MinioStore)
    assert store.lock_supported() is False  # the app can refuse to rely on it
    store.put("k", io.BytesIO(b"x"))
    with pytest.raises(LockNotSupported):
        store.set_retention("k", days_ahead(1))
    with pytest.raises(LockNotSupported):
        store.set_legal_hold("k", True)
    assert store.retention("k") == RetentionInfo()
    store.destroy("k", bypass_governance=False)
    assert_nothing_left(store, "k")
