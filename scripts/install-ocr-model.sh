#!/bin/sh
# Build the OCR recogniser with int8 matrix products (archive_app/reading/model_build.py): PP-OCRv6
# small from the rapidocr wheel, its MatMul weights quantized by onnxruntime's quantizer (needs the
# onnx package, a dependency of the project) under the virtual environment that runs the app. Nothing
# is downloaded. Idempotent: does nothing when the model is already built. Without it OCR reads with
# the float model (same text, ~12 % more CPU).
# Usage: install-ocr-model.sh [PYTHON]   (default .venv/bin/python; the package must be installed in it)
set -u

cd "$(dirname "$0")/.." || exit 1
PY=${1:-.venv/bin/python}
"$PY" -m archive_app.reading.model_build || {
    echo "install-ocr-model.sh: building the int8 OCR recogniser failed" >&2
    exit 1
}
exit 0
