"""The Whoosh patch applied at import (search_index.whoosh_patch) holds for the Whoosh it was
written against, and only for it: these tests fail when whoosh-reloaded changes beneath it."""
from __future__ import annotations

import hashlib
import inspect
from importlib.metadata import version

import pytest
import whoosh
from whoosh.codec import whoosh3

from bench.corpus import iter_records
from search_index import SearchIndex, whoosh_patch

from ..generated import texts

#: sha256 of the source of each Whoosh method the patch replaces, as read in whoosh-reloaded
#: 2.7.5. A mismatch means Whoosh changed: read the new method, check the replacement still
#: does what it does, then update the digest (and WHOOSH_VERSION).
REPLACED_SOURCE_SHA256 = {
    "W3PerDocReader._cached_reader":
        "2e27976f892aee8fe9c2619408ca295432d5fdd10f94a3bbbbd8d89bd7f304f7",
    "W3LeafMatcher._read_ids":
        "f8024a90ec60697e56ce17b450f68e5c79d439ccbe3659165b49fbfc9d93c2e5",
}


def test_installed_whoosh_is_the_release_the_patch_was_written_for():
    assert whoosh_patch.WHOOSH_VERSION == "2.7.5"
    assert version(whoosh_patch.WHOOSH_DIST) == whoosh_patch.WHOOSH_VERSION
    assert whoosh.versionstring() == whoosh_patch.WHOOSH_VERSION


def test_replaced_whoosh_methods_are_unchanged():
    assert whoosh_patch.ORIGINALS.keys() == REPLACED_SOURCE_SHA256.keys()
    for name, original in whoosh_patch.ORIGINALS.items():
        assert original.__module__ == "whoosh.codec.whoosh3", name
        digest = hashlib.sha256(inspect.getsource(original).encode("utf-8")).hexdigest()
        assert digest == REPLACED_SOURCE_SHA256[name], f"Whoosh's {name} has changed"


def test_patch_is_installed_once_the_package_is_imported():
    assert whoosh3.W3PerDocReader._cached_reader is whoosh_patch._cached_reader
    assert whoosh3.W3LeafMatcher._read_ids is whoosh_patch._read_ids
    whoosh_patch.install()  # again: changes nothing, the originals stay Whoosh's own
    assert whoosh_patch.ORIGINALS["W3LeafMatcher._read_ids"] is not whoosh_patch._read_ids
    assert whoosh3.W3LeafMatcher._read_ids is whoosh_patch._read_ids


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    ix = SearchIndex.open(tmp_path_factory.mktemp("patch") / "ix")
    docs = [d for d, _ in iter_records(300, seed=3, chars=200, sentences=texts.record_sentences())]
    ix.add_or_update(docs)  # Whoosh's own writer
    yield ix
    ix.close()


def _postings(reader, field: str) -> dict[bytes, list[int]]:
    return {t: list(reader.postings(field, t).all_ids())
            for f, t in reader.all_terms() if f == field}


def test_patched_block_decoding_reads_what_whoosh_reads(index, monkeypatch):
    reader = index._searcher().reader()
    patched = _postings(reader, "all")
    assert max(len(ids) for ids in patched.values()) > 2 * 128  # terms over several blocks
    monkeypatch.setattr(whoosh3.W3LeafMatcher, "_read_ids",
                        whoosh_patch.ORIGINALS["W3LeafMatcher._read_ids"])
    assert _postings(reader, "all") == patched


def test_missing_length_column_is_looked_for_once(index, monkeypatch):
    (sub, _offset), = index._searcher().leaf_searchers()
    perdoc = sub.reader()._perdoc
    looked = []
    real = type(perdoc).has_column
    monkeypatch.setattr(type(perdoc), "has_column",
                        lambda self, name: looked.append(name) or real(self, name))
    # "all" is not scorable: no length column; "name_py" is scorable: it has one
    assert [perdoc.doc_field_length(d, "all") for d in range(3)] == [0, 0, 0]
    lengths = [perdoc.doc_field_length(d, "name_py") for d in range(50)]
    assert len(looked) == 2
    monkeypatch.setattr(whoosh3.W3PerDocReader, "_cached_reader",
                        whoosh_patch.ORIGINALS["W3PerDocReader._cached_reader"])
    perdoc._readers.clear()
    assert [perdoc.doc_field_length(d, "name_py") for d in range(50)] == lengths
    assert any(lengths)
