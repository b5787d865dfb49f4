"""OCR benchmark: accuracy and speed per kind of document, through the pipeline, and the engine alone.

Run from the project's virtualenv:

    python bench/ocr.py                      # the chosen engine, each page 3 times (median)
    python bench/ocr.py --engine all         # compare model pairings (needs rapidocr_onnxruntime for v4)
    python bench/ocr.py --engine v6,v6-float # int8 recogniser (scripts/install-ocr-model.sh) vs float
    python bench/ocr.py --rec-model PATH     # the int8 recogniser from PATH (ARCHIVE_OCR_REC_MODEL)
    python bench/ocr.py --threads 1          # onnxruntime threads per call (default: every core)
    python bench/ocr.py --det-side 2000      # detection resolution (long side, px)
    python bench/ocr.py --det-min-side 736   # short side small images are detected at (RapidOCR's own)
    python bench/ocr.py --rec-parallel 1     # recognition one batch at a time, on every thread
    python bench/ocr.py --upscale 1500       # enlarge images whose long side is below this (old behaviour)
    python bench/ocr.py --pdf-pages 30       # also a scanned contract of 30 A4 pages, as one PDF

Pages (real ones from ../shared, generated ones from tests/generated/documents.py):

* Simplified print: CnOCR's multi-line_cn2.png (real); a generated A4 page of wrapped paragraphs.
* Traditional print: a page of ../shared/seeds/004 (a real Traditional web page's text) rendered with
  Noto Sans CJK TC; the tests' Traditional page.
* handwriting: a visitor card in a Kai (brush) font with jittered glyphs — an imitation, there is no
  real handwritten scan here; skipped when fonts-arphic-ukai is not installed.
* noisy photographed lines: CnOCR's chn-00199980.jpg and chn-00199985.jpg (real); generated ones.
* receipts: a generated travel receipt, photographed (turned, grey, grain, JPEG).
* A4 pages: OCRmyPDF's linn.png (real English scan, 300 dpi, 2550 x 3300, linn.txt is its truth); a
  generated dense Chinese A4 page at 300 dpi (40 lines, 1,800 characters); a generated contract page
  of the same print whose every line carries numbers (amounts, phones, IDs, codes, repeated digits).

Each page is written to a file and read with ``archive_app.reading.extract`` (loading, conversion,
detection, orientation, recognition, reading order, reflow); the figure is the median of
``--repeat`` runs (wall seconds), with the CPU seconds of the process beside it (less disturbed by
other processes on a shared machine). Accuracy is 1 - CER (Levenshtein / reference length) after
NFKC (full- and half-width punctuation count as the same); for Chinese, whitespace is ignored.
The engine alone (RapidOCR's own ``__call__`` with the same models and threads) is timed on the same
pages for the pipeline's overhead. The worker's RSS after all pages is printed. Benchmark, not a
test: always exits 0.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive_app.reading import extract, ocr  # noqa: E402
from archive_app.reading.text import char_accuracy  # noqa: E402
from tests.generated import documents, texts  # noqa: E402

SHARED = ROOT.parent / "shared"
TESTDATA = SHARED / "testdata"

ENGINES = {
    # v6: the recogniser pages are read with (int8 when built, see archive_app/reading/model_build.py).
    "v6": ("v6-small-det", ""),
    "v6-float": ("v6-small-det", "v6-small-rec"),
    "v4": ("v4-mobile-det", "v4-mobile-rec"),
    "v4det+v6rec": ("v4-mobile-det", "v6-small-rec"),
    "v6det+v4rec": ("v6-small-det", "v4-mobile-rec"),
}
KINDS = ["Simplified print", "Traditional print", "handwriting", "noisy lines", "receipt", "A4 page"]

# Transcribed by eye from the images (chn-* are noisy synthetic lines of random characters).
MULTILINE_CN2 = ("当然，在媒介越来越多的情形下，意味着传播方式的变化。过去主流的是大众传播，"
                 "现在互动性和定制性带来了新的挑战——如何让品牌与消费者更加互动。")


def _seed_traditional() -> str:
    lines = (SHARED / "seeds" / "004_27fac53c1edaf419.txt").read_text(encoding="utf-8").splitlines()
    body = "".join(line.strip() for line in lines[6:] if line.strip())
    return body[:560]


def cases() -> list[tuple[str, str, object, str, bool]]:
    """(kind, name, image or file path, truth, cjk) for every page."""
    out: list[tuple[str, str, object, str, bool]] = []
    out.append(("Simplified print", "multi-line_cn2.png (real)", TESTDATA / "cnocr/multi-line_cn2.png",
                MULTILINE_CN2, True))
    img, truth = documents.paragraph_page(texts.PAGES["simplified_rules"] + texts.PAGES["simplified_system"], 30)
    out.append(("Simplified print", "paragraphs A4 150 dpi (gen)", img, truth, True))
    img, truth = documents.paragraph_page(_seed_traditional(), 28, face="TC")
    out.append(("Traditional print", "seeds/004 page, TC font (gen)", img, truth, True))
    img, truth = documents.paragraph_page(texts.PAGES["traditional"], 30, face="TC")
    out.append(("Traditional print", "tests' Traditional page (gen)", img, truth, True))
    card = documents.handwritten_card()
    if card:
        out.append(("handwriting", "visitor card, Kai jittered (gen)", card[0], card[1], True))
    for name in ("chn-00199980.jpg", "chn-00199985.jpg"):
        truth = {"chn-00199980.jpg": "揭若遭才柄腾戮畔惬炫", "chn-00199985.jpg": "马粗蘑熨距颖猬要藕等"}[name]
        out.append(("noisy lines", f"{name} (real)", TESTDATA / "cnocr" / name, truth, True))
    img, truth = documents.noisy_lines()
    out.append(("noisy lines", "three photographed lines (gen)", img, truth, True))
    img, truth = documents.receipt()
    out.append(("receipt", "travel receipt photo (gen)", img, truth, True))
    out.append(("A4 page", "linn.png English 300 dpi (real)", TESTDATA / "ocrmypdf/linn.png",
                (TESTDATA / "ocrmypdf/linn.txt").read_text(encoding="utf-8"), False))
    img, truth = documents.dense_chinese_a4()
    out.append(("A4 page", "dense Chinese A4 300 dpi (gen)", img, truth, True))
    img, truth = documents.contract_a4()
    out.append(("A4 page", "contract A4, numbers a line (gen)", img, truth, True))
    return out


def accuracy(ref: str, hyp: str, cjk: bool) -> float:
    nf = lambda s: unicodedata.normalize("NFKC", s)  # noqa: E731
    return char_accuracy(nf(ref), nf(hyp), drop_space=cjk)


def timed(n: int, fn):
    walls, cpus, out = [], [], None
    for _ in range(n):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    cur = 0.0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
    return cur, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(label: str, engine: ocr.Engine, pages: list, repeat: int, direct: bool) -> dict:
    ocr._engine = engine  # extract() reads with the process-wide engine: make it this one
    extract(str(pages[0][2]), "image/png")  # warm-up (first onnxruntime runs allocate)
    print(f"\n== {label}: {engine.name}")
    hdr = f"{'kind':18s} {'page':34s} {'acc':>6s} {'wall s':>7s} {'cpu s':>6s}" + (
        f" {'eng cpu':>8s} {'overhead':>8s}" if direct else "")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    raw = None
    if direct:
        from rapidocr import RapidOCR

        raw = RapidOCR(params={"Global.log_level": "warning", "Global.model_root_dir": "/nonexistent",
                               "EngineConfig.onnxruntime.intra_op_num_threads": THREADS,
                               "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                               "Det.model_path": str(ocr.model_path(ENGINES_USED[0])),
                               "Rec.model_path": str(ocr.model_path(ENGINES_USED[1] or ocr.rec_model())),
                               "Cls.model_path": str(ocr.model_path(ocr.CLS_MODEL))})
    for kind, name, path, truth, cjk in pages:
        mime = "image/jpeg" if str(path).endswith(".jpg") else "image/png"
        wall, cpu, result = timed(repeat, lambda: extract(str(path), mime))
        acc = accuracy(truth, "\n".join(p.text for p in result), cjk)
        line = f"{kind:18s} {name:34s} {acc:6.3f} {wall:7.2f} {cpu:6.2f}"
        row = {"kind": kind, "acc": acc, "wall": wall, "cpu": cpu}
        if raw is not None:
            with Image.open(path) as im:
                bgr = np.ascontiguousarray(ocr.to_rgb_array(im)[:, :, ::-1])
            raw(bgr)
            ew, ec, _ = timed(repeat, lambda: raw(bgr))
            row["engine"], row["engine_cpu"] = ew, ec
            # CPU seconds: on a shared machine the wall time of either side swings with the load.
            line += f" {ec:8.2f} {100 * (cpu - ec) / ec:+7.1f}%"
        rows.append(row)
        print(line)
    print("-" * len(hdr))
    print(f"{'kind':18s} {'pages':>5s} {'mean acc':>8s} {'s/page':>7s} {'cpu s/page':>10s} {'pages/min':>9s}")
    for kind in KINDS:
        rs = [r for r in rows if r["kind"] == kind]
        if rs:
            s = statistics.mean(r["wall"] for r in rs)
            c = statistics.mean(r["cpu"] for r in rs)
            print(f"{kind:18s} {len(rs):5d} {statistics.mean(r['acc'] for r in rs):8.3f} {s:7.2f} {c:10.2f} "
                  f"{60 / s:9.1f}")
    total = sum(r["wall"] for r in rows)
    print(f"all: {len(rows)} pages in {total:.1f} s, {60 * len(rows) / total:.1f} pages/min")
    if raw is not None:
        eng = sum(r["engine_cpu"] for r in rows)
        cpu = sum(r["cpu"] for r in rows)
        print(f"CPU: pipeline {cpu:.1f} s vs engine alone {eng:.1f} s: overhead {100 * (cpu - eng) / eng:+.1f}% "
              "(target <= +10%; on big pages the engine alone reads less, see the README)")
    cur, peak = rss_mb()
    print(f"RSS of this process after the pages: {cur:.0f} MB (peak {peak:.0f} MB; target <= 500 MB)")
    return {r["kind"]: r for r in rows}


def scanned_pdf(n: int, folder: Path) -> None:
    """Read a scan of an ``n``-page contract (image-only PDF, A4 at 300 dpi: dense Chinese pages, every
    third one the contract page with numbers on each line) through the pipeline, as a worker reads an
    upload, and print its seconds in all and a page, and its accuracy."""
    from tests.generated import pdfs

    pages, truths = [], []
    for k in range(n):
        img, truth = documents.contract_a4(seed=k) if k % 3 == 2 else documents.dense_chinese_a4(seed=k)
        pages.append(img)
        truths.append(truth)
    path = folder / f"contract-{n}-pages.pdf"
    path.write_bytes(pdfs.image_pdf(pages, dpi=300))
    del pages
    wall, cpu, result = timed(1, lambda: extract(str(path), "application/pdf"))
    acc = statistics.mean(accuracy(t, p.text, True) for t, p in zip(truths, result))
    print(f"\nscanned PDF of {n} A4 pages ({path.stat().st_size / 1e6:.1f} MB): {wall:.1f} s "
          f"({wall / n:.2f} s a page, {cpu:.1f} CPU-s), mean accuracy {acc:.3f} over {len(result)} pages")


THREADS = 0
ENGINES_USED: tuple[str, str] = ENGINES["v6"]


def main() -> int:
    global THREADS, ENGINES_USED
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default="v6",
                    help=f"model pairing(s), comma-separated: {', '.join(ENGINES)}, or all (default: the chosen one)")
    ap.add_argument("--rec-model", default="", help="the int8 recogniser's file (default: where it is built)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per page; the median counts")
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads per call (0: every core)")
    ap.add_argument("--rec-parallel", type=int, default=0,
                    help="recognition batches read at once, one thread each (0: as many as threads; 1: one "
                         "batch at a time on all threads)")
    ap.add_argument("--det-side", type=int, default=ocr.DET_MAX_SIDE, help="long side the detector sees")
    ap.add_argument("--det-min-side", type=int, default=ocr.DET_MIN_SIDE,
                    help="short side the detector's copy of a small image is enlarged to (0: never)")
    ap.add_argument("--upscale", type=int, default=0, help="enlarge images below this long side (0: never)")
    ap.add_argument("--direct", action="store_true", help="also time the engine alone (pipeline overhead)")
    ap.add_argument("--only", default="", help="only pages whose kind or name contains this")
    ap.add_argument("--pdf-pages", type=int, default=0,
                    help="also read a scanned PDF of this many A4 pages at 300 dpi (0: not)")
    args = ap.parse_args()
    THREADS = args.threads or os.cpu_count() or 1
    ocr.DET_MAX_SIDE = args.det_side
    ocr.SMALL_SIDE = args.upscale
    ocr.DET_MIN_SIDE = args.det_min_side
    ocr.set_rec_model(args.rec_model)
    print(f"{os.cpu_count()} cores, onnxruntime threads {THREADS}, detection long side {args.det_side} px, "
          f"upscale below {args.upscale or 'never'}; load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        pages = []
        for k, (kind, name, src, truth, cjk) in enumerate(cases()):
            if args.only and args.only not in kind and args.only not in name:
                continue
            if isinstance(src, Image.Image):
                path = Path(tmp) / f"page{k}.png"
                src.save(path)
                src = path
            pages.append((kind, name, src, truth, cjk))
        for label in (list(ENGINES) if args.engine == "all" else args.engine.split(",")):
            ENGINES_USED = ENGINES[label]
            try:
                engine = ocr.build_engine(ENGINES_USED[0], ENGINES_USED[1] or None, threads=THREADS,
                                          rec_parallel=args.rec_parallel or None)
            except Exception as exc:  # v4 models absent once rapidocr_onnxruntime is uninstalled
                print(f"\n== {label}: not available ({exc})")
                continue
            run(label, engine, pages, args.repeat, args.direct)
            if args.pdf_pages:
                scanned_pdf(args.pdf_pages, Path(tmp))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
