"""Build the recognition model OCR reads with: PP-OCRv6 small with its MatMul weights in int8.

Why: recognition is ~75 % of an A4 page's OCR CPU time, and ~15 % of that is the model's matrix
products (above all the last one, 120 x 18,710 scores per 8 px column). onnxruntime's dynamic
quantization stores those weights as int8 (per output channel) and multiplies in int8 with the
activations quantized on the fly: ~12 % less recognition CPU at the same text on the bench pages
(bench/ocr.py). The convolutions stay float: quantized (ConvInteger) they ran 1.4-4x slower and
lost characters.

Run at install time by ``scripts/install-ocr-model.sh`` (``python -m archive_app.reading.model_build``),
from the model the ``rapidocr`` wheel carries (never downloaded); the ``onnx`` package (Apache-2.0)
that onnxruntime's quantizer needs is used only here. Without the built file OCR reads with the
float model (slower, same text).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

FILE_NAME = "PP-OCRv6_rec_small.matmul-int8.onnx"


def default_model_path() -> Path:
    """Where ``scripts/install-ocr-model.sh`` puts the model: under the running interpreter's prefix."""
    return Path(sys.prefix) / "share" / "archive" / "models" / FILE_NAME


def build(source: str | Path, out: str | Path) -> dict[str, float]:
    """Write ``source`` (an ONNX recogniser) with int8 MatMul weights to ``out`` (atomically)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    started = time.perf_counter()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        part = Path(tmp) / out.name
        # Per channel: each of the 18,710 output scores keeps its own scale (one scale for the whole
        # matrix changed a character of the English A4 page).
        quantize_dynamic(str(source), str(part), op_types_to_quantize=["MatMul"],
                         weight_type=QuantType.QInt8, per_channel=True)
        part.replace(out)
    return {"seconds": round(time.perf_counter() - started, 1), "bytes": out.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    """``python -m archive_app.reading.model_build [--force] [OUT]``: build unless it is there."""
    from archive_app.reading.ocr import MODELS, model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(default_model_path()))
    parser.add_argument("--force", action="store_true", help="rebuild even if OUT exists")
    args = parser.parse_args(argv)
    if Path(args.out).is_file() and not args.force:
        print(f"model_build: {args.out} already built", file=sys.stderr)
        return 0
    source = model_path("v6-small-rec")
    assert MODELS["v6-small-rec"][1] == source.name
    figures = build(source, args.out)
    print(f"model_build: {args.out} from {source.name}: {figures}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
