"""One contract suite for every BlobStore backend.

Each contract test runs against the filesystem store (in tmp_path) and the
MinIO store (against a real moto S3 server over HTTP).  Nothing is mocked.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from storage import (
    BlobExists,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    FilesystemStore,
    InvalidKey,
    PutResult,
    StorageError,
    StorageUnavailable,
    UnfinishedUpload,
    make_store,
)
from storage.minio_store import PART_SIZE, MinioStore

MiB = 1024 * 1024


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


class GeneratedReader:
    """A readable stream of ``total`` deterministic bytes made on the fly.

    Tracks the SHA-256 of what it produced and the largest single read
    request, so tests can check streaming without holding the content.
    """

    def __init__(self, total: int, fail_after: int | None = None) -> None:
        self.total = total
        self.fail_after = fail_after
        self.produced = 0
        self.max_request = 0
        self.hash = hashlib.sha256()
        # 1 MiB block; the varying first byte keeps multipart parts distinct.
        self._block = bytes(range(256)) * 4096

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.total - self.produced
        self.max_request = max(self.max_request, n)
        if self.fail_after is not None and self.produced >= self.fail_after:
            raise OSError("simulated disk/network failure of the input stream")
        n = min(n, self.total - self.produced)
        out = bytearray()
        while len(out) < n:
            pos = self.produced + len(out)
            block_no, offset = divmod(pos, len(self._block))
            piece = self._block[offset : offset + (n - len(out))]
            if offset == 0:
                piece = bytes([block_no % 256]) + piece[1:]
            out += piece
        data = bytes(out)
        self.produced += len(data)
        self.hash.update(data)
        return data


def read_all(store: BlobStore, key: str) -> bytes:
    with store.open(key) as f:
        return f.read()


def sha256_of_stream(f) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    while chunk := f.read(MiB):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_no_trace(store: BlobStore, key: str) -> None:
    """Nothing is stored under key, and no staging leftovers exist."""
    assert not store.exists(key)
    assert key not in list(store.keys())
    if isinstance(store, FilesystemStore):
        tmp = store.root / ".tmp"
        assert not tmp.is_dir() or list(tmp.iterdir()) == []
    if isinstance(store, MinioStore):
        # Object Lock buckets are versioned: a failed put must not leave a
        # version or delete marker behind either.
        versions = list(store.client.list_objects(store.bucket, prefix=key, include_version=True))
        assert [v for v in versions if v.object_name == key] == []


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------


@pytest.fixture(params=["fs", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """Each contract test runs once per backend."""
    if request.param == "fs":
        yield make_store({"STORAGE_BACKEND": "fs", "STORAGE_DIR": str(tmp_path / "blobs")})
    else:
        # getfixturevalue keeps fs-only runs from starting the S3 server.
        settings: dict[str, Any] = request.getfixturevalue("s3_settings")
        yield make_store(settings)


# --------------------------------------------------------------------------
# contract
# --------------------------------------------------------------------------


def test_put_open_round_trip(store: BlobStore) -> None:
    data = b"%PDF-1.7 scanned contract \x00\xff" * 1000
    result = store.put("customer/42/contract.pdf", io.BytesIO(data), content_type="application/pdf")
    assert result == PutResult("customer/42/contract.pdf", hashlib.sha256(data).hexdigest(), len(data))
    assert read_all(store, "customer/42/contract.pdf") == data
    # Partial reads and explicit close work like a file.
    f = store.open("customer/42/contract.pdf")
    try:
        assert f.read(4) == b"%PDF"
        assert f.read(3) == b"-1."
    finally:
        f.close()


def test_empty_blob(store: BlobStore) -> None:
    result = store.put("empty.bin", io.BytesIO(b""))
    assert result.size == 0
    assert result.sha256 == hashlib.sha256(b"").hexdigest()
    assert read_all(store, "empty.bin") == b""
    st = store.stat("empty.bin")
    assert (st.key, st.size) == ("empty.bin", 0)


def test_large_put_is_streamed(store: BlobStore) -> None:
    total = 40 * MiB + 123  # > 2 parts, so S3 uses a multipart upload
    src = GeneratedReader(total)
    result = store.put("big/scan.tiff", src)  # type: ignore[arg-type]
    assert src.produced == total
    assert result.size == total
    assert result.sha256 == src.hash.hexdigest()
    # Bounded reads: never asked for the whole content at once.
    assert src.max_request <= PART_SIZE + 1
    assert store.stat("big/scan.tiff").size == total
    with store.open("big/scan.tiff") as f:
        assert sha256_of_stream(f) == (result.sha256, total)


def test_stat_and_exists(store: BlobStore) -> None:
    store.put("a/b.txt", io.BytesIO(b"hello"))
    st = store.stat("a/b.txt")
    assert (st.key, st.size) == ("a/b.txt", 5)
    # the orphan sweep relies on a modification time close to now
    assert st.modified is not None
    assert abs((datetime.now(timezone.utc) - st.modified).total_seconds()) < 120
    assert store.exists("a/b.txt")
    assert not store.exists("a/c.txt")
    # A "directory" of keys is not itself a blob.
    assert not store.exists("a")
    with pytest.raises(BlobNotFound):
        store.stat("a/c.txt")
    with pytest.raises(BlobNotFound):
        store.stat("a")


def test_delete(store: BlobStore) -> None:
    store.put("d/x.bin", io.BytesIO(b"x"))
    store.put("d/y.bin", io.BytesIO(b"y"))
    store.delete("d/x.bin")
    assert not store.exists("d/x.bin")
    assert store.exists("d/y.bin")
    with pytest.raises(BlobNotFound):
        store.open("d/x.bin")
    store.delete("d/x.bin")  # already gone: fine
    store.delete("never/existed")
    assert list(store.keys()) == ["d/y.bin"]


def test_delete_then_put_again(store: BlobStore) -> None:
    store.put("k", io.BytesIO(b"first"))
    store.delete("k")
    assert store.put("k", io.BytesIO(b"second")).size == 6
    assert read_all(store, "k") == b"second"


def test_keys_with_prefix(store: BlobStore) -> None:
    for key in ["cust/1/a.pdf", "cust/1/b.pdf", "cust/10/c.pdf", "cust/2/d.pdf", "other.txt"]:
        store.put(key, io.BytesIO(key.encode()))
    assert sorted(store.keys()) == ["cust/1/a.pdf", "cust/1/b.pdf", "cust/10/c.pdf", "cust/2/d.pdf", "other.txt"]
    assert sorted(store.keys("cust/")) == ["cust/1/a.pdf", "cust/1/b.pdf", "cust/10/c.pdf", "cust/2/d.pdf"]
    assert sorted(store.keys("cust/1/")) == ["cust/1/a.pdf", "cust/1/b.pdf"]
    # Plain string-prefix semantics, as in S3.
    assert sorted(store.keys("cust/1")) == ["cust/1/a.pdf", "cust/1/b.pdf", "cust/10/c.pdf"]
    assert sorted(store.keys("oth")) == ["other.txt"]
    assert list(store.keys("nothing/")) == []


def test_write_once(store: BlobStore) -> None:
    store.put("once.txt", io.BytesIO(b"original"))
    with pytest.raises(StorageError) as excinfo:
        store.put("once.txt", io.BytesIO(b"replacement"))
    assert isinstance(excinfo.value, BlobExists)
    assert read_all(store, "once.txt") == b"original"
    assert list(store.keys()) == ["once.txt"]


def test_max_size(store: BlobStore) -> None:
    assert store.put("fits.bin", io.BytesIO(b"x" * 1000), max_size=1000).size == 1000
    with pytest.raises(BlobTooLarge) as excinfo:
        store.put("too-big.bin", io.BytesIO(b"x" * 1001), max_size=1000)
    assert excinfo.value.limit == 1000
    assert_no_trace(store, "too-big.bin")
    assert list(store.keys()) == ["fits.bin"]


def test_max_size_exceeded_mid_multipart(store: BlobStore) -> None:
    # On S3 the limit trips after a multipart upload has started (one 16 MiB
    # part sent), so the upload must be aborted.
    src = GeneratedReader(PART_SIZE + 4 * MiB)
    with pytest.raises(BlobTooLarge):
        store.put("huge.bin", src, max_size=PART_SIZE + 2 * MiB)  # type: ignore[arg-type]
    assert src.produced <= PART_SIZE + 2 * MiB + 1 + MiB
    assert_no_trace(store, "huge.bin")


INVALID_KEYS = ["../x", "/abs", "a//b", "a/./b", "a\\b", "", "a\x00b", "a/../b", "trailing/", ".", "..",
                "sp ace", "ü", ".tmp/x", "x" * 256, "a/" + "x" * 511]


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_invalid_keys_rejected(store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put(key, io.BytesIO(b"data"))
    with pytest.raises(InvalidKey):
        store.open(key)
    with pytest.raises(InvalidKey):
        store.delete(key)
    with pytest.raises(InvalidKey):
        store.stat(key)
    with pytest.raises(InvalidKey):
        store.exists(key)
    assert list(store.keys()) == []


def test_invalid_key_is_also_a_value_error(store: BlobStore) -> None:
    with pytest.raises(ValueError):
        store.put("../escape", io.BytesIO(b""))


def test_invalid_prefix_rejected(store: BlobStore) -> None:
    for prefix in ["/abs", "a\\b", "a\x00"]:
        with pytest.raises(InvalidKey):
            store.keys(prefix)


def test_valid_key_shapes(store: BlobStore) -> None:
    for key in ["a", "A-Z_0.9", "x/y/z/w.v", "..hidden", "a.", "x" * 255, "w" * 255 + "/" + "y" * 255]:
        store.put(key, io.BytesIO(b"1"))
        assert store.exists(key)


def test_open_missing(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.open("missing/key.pdf")


def test_failing_input_stream_leaves_nothing(store: BlobStore) -> None:
    # Fails after 20 MiB: on S3 that is inside a multipart upload.
    src = GeneratedReader(40 * MiB, fail_after=20 * MiB)
    with pytest.raises(StorageUnavailable) as excinfo:
        store.put("broken/upload.bin", src)  # type: ignore[arg-type]
    assert isinstance(excinfo.value.__cause__, OSError)
    assert_no_trace(store, "broken/upload.bin")
    # The store is still usable afterwards.
    store.put("broken/upload.bin", io.BytesIO(b"retry"))
    assert read_all(store, "broken/upload.bin") == b"retry"


def test_failing_input_stream_small(store: BlobStore) -> None:
    src = GeneratedReader(3 * MiB, fail_after=MiB)
    with pytest.raises(StorageUnavailable):
        store.put("broken-small.bin", src)  # type: ignore[arg-type]
    assert_no_trace(store, "broken-small.bin")


# --------------------------------------------------------------------------
# backend-specific failure modes
# --------------------------------------------------------------------------


@pytest.mark.s3
def test_unreachable_s3_endpoint_fails_fast() -> None:
    store = MinioStore(f"127.0.0.1:{closed_port()}", "k", "s", "some-bucket")
    for op in (
        lambda: store.put("a", io.BytesIO(b"data")),
        lambda: store.open("a"),
        lambda: store.exists("a"),
        lambda: list(store.keys()),
        lambda: store.delete("a"),
    ):
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            op()
        assert time.monotonic() - started < 5


@pytest.mark.s3
def test_s3_bucket_created_with_object_lock(s3_settings: dict[str, Any]) -> None:
    store = make_store(s3_settings)
    assert isinstance(store, MinioStore)
    store.put("x", io.BytesIO(b"1"))  # first use creates the bucket
    config = store.client.get_object_lock_config(store.bucket)
    assert config is not None
    assert store.client.get_bucket_versioning(store.bucket).status == "Enabled"


@pytest.mark.s3
def test_s3_delete_removes_all_versions(s3_settings: dict[str, Any]) -> None:
    store = make_store(s3_settings)
    assert isinstance(store, MinioStore)
    store.put("v", io.BytesIO(b"one"))
    # Create extra versions behind the store's back (write-once is the
    # store's rule, not S3's) plus a delete marker.
    store.client.put_object(store.bucket, "v", io.BytesIO(b"two"), 3)
    store.client.remove_object(store.bucket, "v")
    store.client.put_object(store.bucket, "v", io.BytesIO(b"three"), 5)
    store.client.put_object(store.bucket, "v2", io.BytesIO(b"other"), 5)
    store.delete("v")
    versions = list(store.client.list_objects(store.bucket, include_version=True))
    assert [v.object_name for v in versions] == ["v2"]


def test_fs_tmp_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FilesystemStore(root)
    (root / ".tmp").write_bytes(b"not a directory")
    with pytest.raises(StorageUnavailable):
        store.put("a/b.bin", io.BytesIO(b"data"))
    assert sorted(p.name for p in root.iterdir()) == [".tmp"]
    assert (root / ".tmp").read_bytes() == b"not a directory"
    assert list(store.keys()) == []


def test_fs_symlink_cannot_escape_root(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    store = FilesystemStore(root)
    (root / "evil").symlink_to(outside, target_is_directory=True)
    (root / "link.txt").symlink_to(outside / "secret.txt")

    with pytest.raises(InvalidKey):
        store.put("evil/planted.txt", io.BytesIO(b"x"))
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    with pytest.raises(InvalidKey):
        store.open("evil/secret.txt")
    with pytest.raises(InvalidKey):
        store.delete("evil/secret.txt")
    assert (outside / "secret.txt").exists()
    with pytest.raises((InvalidKey, BlobNotFound)):
        store.open("link.txt")
    with pytest.raises(InvalidKey):
        store.exists("link.txt")
    # Symlinks are never listed as keys.
    assert list(store.keys()) == []
    assert list(store.keys("evil/")) == []


def test_fs_crafted_keys_stay_inside_root(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FilesystemStore(root)
    for key in ["../outside.txt", "a/../../outside.txt", "/tmp/outside.txt", "..\\outside.txt"]:
        with pytest.raises(InvalidKey):
            store.put(key, io.BytesIO(b"x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs"]


def test_fs_key_directory_conflict(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "blobs")
    store.put("a/b", io.BytesIO(b"x"))
    # A filesystem cannot hold both "a" (file) and "a/b": a clear error, not
    # StorageUnavailable (retrying will not help), and nothing left behind.
    with pytest.raises(StorageError) as excinfo:
        store.put("a", io.BytesIO(b"y"))
    assert not isinstance(excinfo.value, StorageUnavailable)
    assert list(store.keys()) == ["a/b"]
    with pytest.raises(StorageError) as excinfo:
        store.put("a/b/c", io.BytesIO(b"z"))
    assert not isinstance(excinfo.value, StorageUnavailable)
    assert list(store.keys()) == ["a/b"]
    assert list((tmp_path / "blobs" / ".tmp").iterdir()) == []


def test_fs_blob_is_durable_file(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FilesystemStore(root)
    store.put("x/y.bin", io.BytesIO(b"payload"))
    assert (root / "x" / "y.bin").read_bytes() == b"payload"
    assert os.stat(root / "x" / "y.bin").st_nlink == 1  # temp link removed


# --------------------------------------------------------------------------
# make_store
# --------------------------------------------------------------------------


def test_make_store_fs(tmp_path: Path) -> None:
    store = make_store({"STORAGE_BACKEND": "fs", "STORAGE_DIR": str(tmp_path / "new" / "root")})
    assert isinstance(store, FilesystemStore)
    assert (tmp_path / "new" / "root").is_dir()


def test_make_store_s3_does_not_touch_network() -> None:
    store = make_store(
        {
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT": f"127.0.0.1:{closed_port()}",
            "S3_ACCESS_KEY": "k",
            "S3_SECRET_KEY": "s",
            "S3_BUCKET": "b-ucket",
            "S3_SECURE": "false",
            "S3_OBJECT_LOCK": "true",
        }
    )
    assert isinstance(store, MinioStore)
    assert store.bucket == "b-ucket"


@pytest.mark.parametrize("backend", ["gcs", "", None, "FS"])
def test_make_store_unknown_backend(backend: str | None) -> None:
    with pytest.raises(ValueError, match="STORAGE_BACKEND"):
        make_store({"STORAGE_BACKEND": backend})


def test_make_store_rejects_bad_bucket_name() -> None:
    with pytest.raises(ValueError):
        make_store({"STORAGE_BACKEND": "s3", "S3_ENDPOINT": "h:1", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b",
                    "S3_BUCKET": "Bad_Bucket"})


def test_make_store_missing_settings() -> None:
    with pytest.raises(ValueError, match="STORAGE_DIR"):
        make_store({"STORAGE_BACKEND": "fs"})
    with pytest.raises(ValueError, match="S3_BUCKET"):
        make_store({"STORAGE_BACKEND": "s3", "S3_ENDPOINT": "h:1", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b"})
    with pytest.raises(ValueError, match="S3_SECURE"):
        make_store(
            {
                "STORAGE_BACKEND": "s3",
                "S3_ENDPOINT": "h:1",
                "S3_ACCESS_KEY": "a",
                "S3_SECRET_KEY": "b",
                "S3_BUCKET": "c",
                "S3_SECURE": "maybe",
            }
        )


# --------------------------------------------------------------------------
# put_file: storing a complete local file (an upload spooled to disk)
# --------------------------------------------------------------------------


def test_put_file_round_trip(store, tmp_path):
    src = tmp_path / "spooled.bin"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    src.write_bytes(payload)
    result = store.put_file("spool/a.bin", src)
    assert result.sha256 == hashlib.sha256(payload).hexdigest() and result.size == len(payload)
    with store.open("spool/a.bin") as fh:
        assert fh.read() == payload
    with pytest.raises(StorageError):
        store.put_file("spool/a.bin", src)
    with pytest.raises(BlobTooLarge):
        store.put_file("spool/b.bin", src, max_size=1024)
    assert not store.exists("spool/b.bin")
    # a digest computed while the caller spooled the file is kept as the blob's digest
    digest = hashlib.sha256(payload).hexdigest()
    assert store.put_file("spool/c.bin", src, sha256=digest).sha256 == digest


def test_filesystem_put_file_links_instead_of_copying(tmp_path):
    store = FilesystemStore(tmp_path / "root")
    src = tmp_path / "root-sibling.bin"
    src.write_bytes(b"scan bytes")
    store.put_file("x/y.bin", src)
    stored = tmp_path / "root" / "x" / "y.bin"
    assert os.stat(stored).st_ino == os.stat(src).st_ino  # one copy on disk
    src.unlink()  # the spool file goes away after the request; the blob stays
    with store.open("x/y.bin") as fh:
        assert fh.read() == b"scan bytes"


# --------------------------------------------------------------------------
# uploads a crash or an outage left unfinished
# --------------------------------------------------------------------------


def _leave_unfinished_upload(store: BlobStore, key: str, age_hours: float = 48) -> None:
    """What a put cut off midway leaves: on S3 a multipart upload holding one part, on disk a staging file."""
    if isinstance(store, MinioStore):
        store.lock_supported()  # creates the bucket
        upload_id = store.client._create_multipart_upload(store.bucket, key, {})
        store.client._upload_part(store.bucket, key, b"x" * (5 * MiB), None, upload_id, 1)
        return
    staging = store.root / ".tmp"
    staging.mkdir(exist_ok=True)
    path = staging / "put-crashed.part"
    path.write_bytes(b"x" * 4096)
    then = time.time() - age_hours * 3600
    os.utime(path, (then, then))


def test_unfinished_upload_found_after_the_grace_and_aborted(store: BlobStore) -> None:
    store.put("records/kept", io.BytesIO(b"kept"))
    _leave_unfinished_upload(store, "records/half")
    assert list(store.keys("")) == ["records/kept"]  # no listing of stored keys shows it
    # moto reports one fixed Initiated date (2010-11-10) for every upload; a cut-off before it still
    # shows that the store compares the upload's age with the grace
    assert store.abandoned_uploads(datetime(2000, 1, 1, tzinfo=timezone.utc)) == []
    found = store.abandoned_uploads(datetime.now(timezone.utc))
    assert len(found) == 1
    assert found[0].started < datetime.now(timezone.utc)
    store.abort_upload(found[0])
    assert store.abandoned_uploads(datetime.now(timezone.utc)) == []
    store.abort_upload(found[0])  # already gone: not an error
    assert read_all(store, "records/kept") == b"kept"


def test_fs_staging_file_still_being_written_is_spared(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "root")
    _leave_unfinished_upload(store, "", age_hours=48)
    live = store.root / ".tmp" / "put-live.part"
    live.write_bytes(b"arriving")  # written just now: a put in progress
    a_day_ago = datetime.now(timezone.utc) - timedelta(hours=24)
    assert [u.upload_id for u in store.abandoned_uploads(a_day_ago)] == ["put-crashed.part"]
    with pytest.raises(InvalidKey):
        store.abort_upload(UnfinishedUpload(key="", upload_id="../blob", started=a_day_ago))
