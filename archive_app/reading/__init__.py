"""Text extraction for uploaded files: PDF text layer, else OCR (RapidOCR); page images.

Plain functions, no Flask or database. Every failure a file can cause is an ExtractionError.
"""
from archive_app.reading.errors import (
    CORRUPT_FILE,
    ENCRYPTED_PDF,
    NO_SUCH_PAGE,
    OCR_FAILED,
    TOO_LARGE_TO_RENDER,
    UNSUPPORTED_TYPE,
    ExtractionError,
)
from archive_app.reading.ocr import OcrLine, OcrPage, get_engine, ocr_image
from archive_app.reading.pdf import open_pdf, page_count, page_text, render_page
from archive_app.reading.pipeline import (
    PageText,
    extract,
    iter_pages,
    meaningful_text,
    render_page_image,
    render_thumbnail,
)
from archive_app.reading.text import clean_ocr_text

__all__ = [
    "CORRUPT_FILE", "ENCRYPTED_PDF", "NO_SUCH_PAGE", "OCR_FAILED", "TOO_LARGE_TO_RENDER",
    "UNSUPPORTED_TYPE", "ExtractionError", "OcrLine", "OcrPage", "PageText", "clean_ocr_text",
    "extract", "get_engine", "iter_pages", "meaningful_text", "ocr_image", "open_pdf", "page_count", "page_text",
    "render_page", "render_page_image", "render_thumbnail",
]
