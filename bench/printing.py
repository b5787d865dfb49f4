"""Printed PDFs: how long the embedded font takes to load, and a searchable copy per page.

    PYTHONPATH=. .venv/bin/python bench/printing.py [--pages 30]

Prints: the font's load time (once per process), a dense A4 page's invisible text layer (40 lines,
about 1,800 characters, drawn over a blank 300-dpi scan) per page for a PDF copy of N pages, and the
copy's size. Needs the font built by scripts/install-fonts.sh.
"""
from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
from pathlib import Path

from PIL import Image

from archive_app.printing import fonts
from archive_app.reading import searchable_copy as sc

COMMON = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
          "而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性"
          "好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道")


def dense_lines(width: int, height: int, rows: int = 40, per_line: int = 44) -> sc.PageLines:
    rng = random.Random(7)
    margin, step = 120, (height - 240) // rows
    lines = []
    for k in range(rows):
        text = "".join(rng.choice(COMMON) for _ in range(per_line))
        top = margin + k * step
        lines.append((text, ((margin, top), (width - margin, top), (width - margin, top + step * 0.8),
                             (margin, top + step * 0.8))))
    return sc.PageLines(width, height, 0, tuple(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    fonts.cjk_font()
    print(f"font load: {time.perf_counter() - started:.2f} s ({fonts.font_path()})")
    width, height = 2480, 3508  # A4 at 300 dpi
    with tempfile.TemporaryDirectory() as tmp:
        scan = Path(tmp) / "scan.pdf"
        pages = [Image.new("L", (width, height), 255) for _ in range(args.pages)]
        pages[0].save(scan, format="PDF", resolution=300, save_all=True, append_images=pages[1:])
        lines = {n: dense_lines(width, height) for n in range(1, args.pages + 1)}
        chars = sum(len(t) for t, _ in lines[1].lines)
        out = io.BytesIO()
        started = time.perf_counter()
        sc.make_copy(str(scan), "application/pdf", lines, out)
        took = time.perf_counter() - started
        print(f"PDF copy: {args.pages} pages of {chars} characters in {took:.2f} s "
              f"({took / args.pages * 1000:.0f} ms/page), {len(out.getvalue()) / 1024:.0f} KiB "
              f"(scan alone {scan.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
