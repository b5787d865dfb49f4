"""Incremental updates of a PDF: new and replaced objects appended after the original's bytes.

Why not pypdf's writer: cloning a document, even in its incremental mode, reads every object of the
original into memory (a scan's image streams: the whole file), and the writing process held ~3 times
the file's size at once (a 30-page scan at 300 dpi, 33 MB: +95 MB RSS; 200 pages would be +600 MB).
Here the original is parsed lazily by pypdf, only the objects an update replaces are read (a page's
dictionary, its resources and the catalog, never its images), its bytes are copied through in
blocks, and the update is written after them with its own cross-reference section pointing back at
the original's (``/Prev``), as PDF 1.7 §7.5.6 describes.
"""
from __future__ import annotations

import re
import shutil
from typing import Any, BinaryIO

from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    StreamObject,
)

_STARTXREF = re.compile(rb"startxref\s+(\d+)")
_TAIL = 4096  # the last bytes of a file, where its startxref must be


class PdfUpdate:
    """The objects an incremental update adds to, or replaces in, the PDF ``reader`` reads."""

    def __init__(self, reader: PdfReader) -> None:
        if reader.is_encrypted:
            raise ValueError("an encrypted PDF cannot be updated")
        # New objects are numbered after every number in use: a damaged file's /Size can be too small,
        # and an object it does not count would be replaced by a new one of the same number.
        known = [int(reader.trailer.get("/Size", 0)) - 1, *reader.xref_objStm]
        known += [idnum for numbers in reader.xref.values() for idnum in numbers]
        self._next_id = max(known) + 1
        self._objects: dict[int, tuple[int, PdfObject]] = {}
        self._copied: dict[tuple[int, int], IndirectObject] = {}

    def add(self, obj: PdfObject) -> IndirectObject:
        """A new object of the update; its reference."""
        ref = self._new_ref()
        self._objects[ref.idnum] = (0, obj)
        return ref

    def _new_ref(self) -> IndirectObject:
        ref = IndirectObject(self._next_id, 0, None)
        self._next_id += 1
        return ref

    def replace(self, ref: IndirectObject, obj: PdfObject) -> None:
        """``obj`` stands for the original's object ``ref`` from this update on."""
        self._objects[ref.idnum] = (ref.generation, obj)

    def copy_in(self, obj: Any) -> Any:
        """``obj``, an object of another document (an overlay's page resources, say), with every object
        it refers to added to the update once, however often it is reached."""
        if isinstance(obj, IndirectObject):
            key = (id(obj.pdf), obj.idnum)
            if key not in self._copied:
                # Numbered before its content is copied, so a reference back to it (a cycle) finds it.
                self._copied[key] = ref = self._new_ref()
                self._objects[ref.idnum] = (0, self.copy_in(obj.get_object()))
            return self._copied[key]
        if isinstance(obj, StreamObject):
            out = StreamObject()
            out.update({k: self.copy_in(obj.raw_get(k)) for k in obj})
            out.set_data(obj._data)  # as stored (encoded), with its /Filter
            return out
        if isinstance(obj, DictionaryObject):
            return DictionaryObject({k: self.copy_in(obj.raw_get(k)) for k in obj})
        if isinstance(obj, ArrayObject):
            return ArrayObject(self.copy_in(v) for v in obj)
        return obj

    def write(self, original: BinaryIO, out: BinaryIO, trailer: dict[str, PdfObject]) -> None:
        """Write the original's bytes, then the update; ``trailer`` holds the trailer entries the update
        sets (/Root, /Info, /ID)."""
        original.seek(0, 2)
        size = original.tell()
        original.seek(max(0, size - _TAIL))
        found = _STARTXREF.findall(original.read())
        if not found:
            raise ValueError("no startxref at the end of the original")
        prev = int(found[-1])
        original.seek(prev)
        table = original.read(4) == b"xref"
        original.seek(0)
        shutil.copyfileobj(original, out, 1 << 20)
        out.write(b"\n")
        offsets: dict[int, tuple[int, int]] = {}
        for idnum in sorted(self._objects):
            generation, obj = self._objects[idnum]
            offsets[idnum] = (out.tell(), generation)
            out.write(f"{idnum} {generation} obj\n".encode())
            obj.write_to_stream(out)
            out.write(b"\nendobj\n")
        entries = {NameObject("/Prev"): NumberObject(prev)}
        entries.update({NameObject(k): v for k, v in trailer.items()})
        if table:
            self._write_table(out, offsets, entries)
        else:
            self._write_stream(out, offsets, entries)

    def _write_table(self, out: BinaryIO, offsets: dict[int, tuple[int, int]], entries: dict) -> None:
        start = out.tell()
        out.write(b"xref\n")
        for first, run in _runs(sorted(offsets)):
            out.write(f"{first} {len(run)}\n".encode())
            for idnum in run:
                offset, generation = offsets[idnum]
                out.write(f"{offset:010d} {generation:05d} n\r\n".encode())
        trailer = DictionaryObject(entries)
        trailer[NameObject("/Size")] = NumberObject(self._next_id)
        out.write(b"trailer\n")
        trailer.write_to_stream(out)
        out.write(f"\nstartxref\n{start}\n%%EOF\n".encode())

    def _write_stream(self, out: BinaryIO, offsets: dict[int, tuple[int, int]], entries: dict) -> None:
        # The original's last section is a cross-reference stream (PDF 1.5+): the update's is one too.
        own = self._next_id
        start = out.tell()
        offsets = {**offsets, own: (start, 0)}
        index, rows = ArrayObject(), bytearray()
        for first, run in _runs(sorted(offsets)):
            index.extend([NumberObject(first), NumberObject(len(run))])
            for idnum in run:
                offset, generation = offsets[idnum]
                rows += b"\x01" + offset.to_bytes(5, "big") + generation.to_bytes(2, "big")
        xref = StreamObject()
        xref.update(entries)
        xref.update({NameObject("/Type"): NameObject("/XRef"), NameObject("/Size"): NumberObject(own + 1),
                     NameObject("/W"): ArrayObject([NumberObject(1), NumberObject(5), NumberObject(2)]),
                     NameObject("/Index"): index})
        xref.set_data(bytes(rows))
        out.write(f"{own} 0 obj\n".encode())
        xref.write_to_stream(out)
        out.write(f"\nendobj\nstartxref\n{start}\n%%EOF\n".encode())


def _runs(ids: list[int]) -> list[tuple[int, list[int]]]:
    """Consecutive object numbers grouped: the subsections of a cross-reference section."""
    runs: list[tuple[int, list[int]]] = []
    for idnum in ids:
        if runs and runs[-1][1][-1] + 1 == idnum:
            runs[-1][1].append(idnum)
        else:
            runs.append((idnum, [idnum]))
    return runs
