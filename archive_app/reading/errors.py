"""The one exception type the extraction package lets out.

``code`` is stable (jobs store it, the UI/API may switch on it); ``message`` is Chinese and shown
to archivists as the reason a file's job failed.
"""
from __future__ import annotations

from archive_app.i18n import _, _l

ENCRYPTED_PDF = "encrypted_pdf"
CORRUPT_FILE = "corrupt_file"
TOO_LARGE_TO_RENDER = "too_large_to_render"
UNSUPPORTED_TYPE = "unsupported_type"
NO_SUCH_PAGE = "no_such_page"
OCR_FAILED = "ocr_failed"

MESSAGES_ZH: dict[str, str] = {
    ENCRYPTED_PDF: _l("PDF 文件已加密（设有打开密码），无法读取内容。请上传未加密的版本。"),
    CORRUPT_FILE: _l("文件已损坏或格式无效，无法读取。"),
    TOO_LARGE_TO_RENDER: _l("文件中的页面或图像尺寸过大，为防止耗尽服务器资源已拒绝处理。"),
    UNSUPPORTED_TYPE: _l("不支持的文件类型，仅支持 PDF、JPEG、PNG 和 TIFF。"),
    NO_SUCH_PAGE: _l("页码超出文件范围。"),
    OCR_FAILED: _l("文字识别（OCR）失败。"),
}


class ExtractionError(Exception):
    """A file (or one of its pages) cannot be processed; ``code`` is stable, ``message_zh`` is for people."""

    def __init__(self, code: str, message_zh: str | None = None, *, detail: str | None = None) -> None:
        self.code = code
        self.message_zh = str(message_zh or MESSAGES_ZH.get(code, _("文件无法处理。")))
        self.detail = detail  # technical cause (library message), for logs only
        super().__init__(f"{code}: {self.message_zh}" + (f" ({detail})" if detail else ""))
