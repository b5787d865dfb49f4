"""Test files made by the tests themselves, so the suite runs on a fresh clone with nothing beside it.

* ``texts``: the phrases and pages the files carry (Chinese and English), written for the tests.
* ``images``: text rendered with the Noto Sans CJK font (Debian's fonts-noto-cjk) into page images;
  scan faults (rotated, skewed, blurred, noisy, low contrast); PNG/JPEG/CMYK JPEG/palette PNG,
  EXIF-turned JPEG, multi-page TIFF.
* ``pdfs``: text-layer, image-only and mixed PDFs, multi-page, /Rotate'd and skewed scans,
  encrypted, header-only, truncated, broken xref, odd metadata, attachments, no /Contents,
  a blank scan, a huge 1-bit scan (decompression bomb) and an image that claims 30 GB.
* ``hostile``: a PNG bomb header, cut-off images, files of one type named as another.

The real files beside the repository are used only by the acceptance tier (``tests/acceptance``).
"""
from . import hostile, images, pdfs, texts

__all__ = ["hostile", "images", "pdfs", "texts"]
