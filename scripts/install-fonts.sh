#!/bin/sh
# Make the CJK font the printed PDFs embed (销毁证明书, 原件交接单, searchable copies' text layer):
# Debian's fonts-noto-cjk (SIL OFL 1.1), converted once from its CFF outlines to the TrueType font
# reportlab can embed (archive_app/printing/font_build.py, fontTools) under the virtual environment
# that runs the app. Idempotent: does nothing when the font is already built.
# Usage: install-fonts.sh [PYTHON]   (default .venv/bin/python; the package must be installed in it)
set -u

cd "$(dirname "$0")/.." || exit 1
PY=${1:-.venv/bin/python}
sh scripts/apt-install.sh install-fonts.sh fonts-noto-cjk || exit 1
"$PY" -m archive_app.printing.font_build || {
    echo "install-fonts.sh: building the PDF font failed" >&2
    exit 1
}
exit 0
