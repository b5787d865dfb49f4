"""OCR benchmark: the chosen engine (RapidOCR) on ../shared/testdata images, and the pipeline's overhead.

Run from the project's virtualenv:

    python bench/ocr.py              # each image once
    python bench/ocr.py --repeat 3   # best of 3 per image (less noise on a busy machine)

For every image it measures

1. the engine called directly, as a caller would without our pipeline: ``RapidOCR()(array)`` on
   the image converted to 8-bit BGR (raw ``RapidOCR()(path)`` is also shown for linn.png: it
   reads nothing, because the file is a 2-colour palette PNG whose indices 0/1 look black);
2. ``archive_app.reading.extract(path, mime)``: loading, conversion, scaling, detection,
   orientation check, recognition, reading order, clean-up;

and prints seconds, pages per minute and character accuracy (1 - Levenshtein / reference length,
whitespace runs collapsed; for Chinese, whitespace removed) and the pipeline's time relative to
the direct call (target: overhead <= 10 %). Benchmark, not a test: always exits 0.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive_app.reading import extract  # noqa: E402
from archive_app.reading.ocr import get_engine, to_rgb_array  # noqa: E402
from archive_app.reading.text import char_accuracy  # noqa: E402

TESTDATA = ROOT.parent / "shared" / "testdata"

# Ground truth. linn.txt ships with the file. The Chinese strings were transcribed by eye from the
# images (chn-* are noisy synthetic lines of random characters; a few glyphs are uncertain).
CASES = [
    ("ocrmypdf/linn.png", "image/png", (TESTDATA / "ocrmypdf/linn.txt").read_text(encoding="utf-8"), False),
    ("cnocr/multi-line_cn2.png", "image/png",
     "当然，在媒介越来越多的情形下，意味着传播方式的变化。过去主流的是大众传播，"
     "现在互动性和定制性带来了新的挑战——如何让品牌与消费者更加互动。", True),
    ("cnocr/chn-00199980.jpg", "image/jpeg", "揭若遭才柄腾戮畔惬炫", True),
    ("cnocr/chn-00199985.jpg", "image/jpeg", "马粗蘑熨距颖猬要藕等", True),
]


def accuracy(ref: str, hyp: str, cjk: bool) -> float:
    return char_accuracy(ref, hyp, drop_space=cjk)


def best_of(n: int, fn):
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1, help="runs per image; the fastest counts")
    args = ap.parse_args()

    t0 = time.perf_counter()
    engine = get_engine()
    print(f"engine: RapidOCR (rapidocr_onnxruntime, PP-OCRv4) created in {time.perf_counter() - t0:.2f} s")
    warm = np.full((64, 256, 3), 255, np.uint8)
    engine(warm)

    raw, _ = engine(str(TESTDATA / "ocrmypdf/linn.png"))
    print(f"raw RapidOCR()(path) on linn.png (palette PNG): {len(raw or [])} lines read\n")

    hdr = f"{'image':28s} {'direct s':>9s} {'acc':>6s} {'pipeline s':>10s} {'acc':>6s} {'overhead':>9s}"
    print(hdr)
    print("-" * len(hdr))
    tot_d = tot_p = 0.0
    for rel, mime, ref, cjk in CASES:
        path = str(TESTDATA / rel)

        def direct():
            with Image.open(path) as im:
                bgr = np.ascontiguousarray(to_rgb_array(im)[:, :, ::-1])
            res, _ = engine(bgr)
            return "\n".join(r[1] for r in (res or []))

        td, text_d = best_of(args.repeat, direct)
        tp, pages = best_of(args.repeat, lambda: extract(path, mime))
        text_p = "\n".join(p.text for p in pages)
        tot_d += td
        tot_p += tp
        print(f"{rel:28s} {td:9.2f} {accuracy(ref, text_d, cjk):6.3f} {tp:10.2f} "
              f"{accuracy(ref, text_p, cjk):6.3f} {100 * (tp - td) / td:+8.1f}%")
    n = len(CASES)
    print("-" * len(hdr))
    print(f"pages per minute: direct {60 * n / tot_d:.1f}, pipeline {60 * n / tot_p:.1f}; "
          f"pipeline overhead {100 * (tot_p - tot_d) / tot_d:+.1f}% (target <= +10%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
