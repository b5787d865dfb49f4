"""OCR with RapidOCR (PP-OCRv4 Chinese/English models on onnxruntime). The only module importing it.

Why not ``RapidOCR()(image)`` as is:

* RapidOCR turns a PIL image into an array with ``np.array(img)``. For a palette ("P") image, such as
  ``linn.png`` (a 1-bit scan saved as a 2-colour palette PNG), that array holds palette *indices*
  0/1, not grey levels, so the engine sees an all-black page and finds no text at all. The same
  happens with 16-bit ("I;16"/"I") greyscale and gives wrong colours for CMYK. We convert every
  input to 8-bit RGB ourselves (alpha composited onto white).
* It shrinks any page to 2000 px on the long side *before* cropping the text lines, so the
  recogniser reads lines from the shrunken page. We detect on a copy of at most
  ``DET_MAX_SIDE`` px but crop the lines from the page at up to ``MAX_SIDE`` px.
* Small images (a photo of one line, a chat screenshot) read better upscaled (see ``SMALL_SIDE``).
* Pages turned by 90/270 degrees: the detector then finds mostly upright (tall) boxes; we turn the
  page and detect again. Pages upside down (180, or 270 after our 90 turn) are recognised by the
  line classifier (which flips each line); when most lines were flipped, the page order is
  reversed (boxes mapped through a 180 degree turn) so the text reads top to bottom.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from archive_app.reading.errors import OCR_FAILED, ExtractionError
from archive_app.reading.text import clean_ocr_text

# Long side of the image the recogniser crops lines from (downscale above it).
MAX_SIDE = 4000
# Long side of the copy the text detector runs on.
DET_MAX_SIDE = 2000
# Images whose long side is below this are upscaled (at most x UPSCALE_MAX) to reach it.
SMALL_SIDE = 1500
UPSCALE_MAX = 3.0
# Lines the recogniser is less sure of than this are dropped (RapidOCR's own default).
TEXT_SCORE = 0.5
# A page counts as turned by 90/270 degrees when this share of its (weighted) boxes is tall.
VERTICAL_SHARE = 0.6
MIN_BOXES_FOR_ROTATION = 3


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    # Four (x, y) corners, clockwise from top-left, in pixels of the input image turned by
    # ``OcrPage.rotation`` degrees clockwise (i.e. of the upright page).
    box: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class OcrPage:
    text: str
    lines: list[OcrLine] = field(default_factory=list)
    mean_confidence: float = 0.0  # mean over characters; 0.0 when nothing was read
    rotation: int = 0  # degrees clockwise the input was turned to read it (0, 90, 180, 270)


_engine = None
_engine_lock = threading.Lock()
# RapidOCR's components keep per-call state (the detector stores its pre-processor on self), so one
# page at a time goes through the engine; onnxruntime itself uses all cores for each call.
_run_lock = threading.Lock()


def get_engine():
    """The process-wide RapidOCR engine, created on first use (thread-safe)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                from rapidocr_onnxruntime import RapidOCR

                _engine = RapidOCR(text_score=TEXT_SCORE)
    return _engine


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """Any PIL image as a contiguous H x W x 3 uint8 RGB array (alpha composited onto white)."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        if mode.startswith("I;16") or (mode == "I" and lo >= 0 and hi > 255):
            lo, hi = (0.0, 65535.0) if hi > 255 else (0.0, 255.0)
        elif hi <= lo:
            hi = lo + 1.0
        g = np.clip((a - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([g, g, g], axis=-1))
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    elif mode == "P":
        img = img.convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, rgba).convert("RGB")
    elif img.mode != "RGB":
        img = img.convert("RGB")  # 1, L, CMYK, YCbCr, LAB, HSV
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _resize(a: np.ndarray, s: float) -> np.ndarray:
    if abs(s - 1.0) < 1e-3:
        return a
    h, w = a.shape[:2]
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def work_scale(w: int, h: int) -> float:
    """Scale applied to an input image before OCR (down for huge pages, up for small snippets)."""
    long = max(w, h)
    if long > MAX_SIDE:
        return MAX_SIDE / long
    if long < SMALL_SIDE:
        return min(UPSCALE_MAX, SMALL_SIDE / long)
    return 1.0


def _detect(engine, bgr: np.ndarray) -> np.ndarray:
    """Text boxes (N x 4 x 2, float32) in ``bgr`` coordinates, detected on a copy <= DET_MAX_SIDE."""
    h, w = bgr.shape[:2]
    s = min(1.0, DET_MAX_SIDE / max(h, w))
    small = _resize(bgr, s)
    # Very flat strips (one text line) confuse the detector; pad them as RapidOCR does.
    sh, sw = small.shape[:2]
    pad = 0
    if sh <= engine.min_height or sw / sh > engine.width_height_ratio:
        new_h = max(int(sw / engine.width_height_ratio), engine.min_height) * 2
        pad = int(abs(new_h - sh) / 2)
        small = cv2.copyMakeBorder(small, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    boxes, _ = engine.text_det(small)
    if boxes is None or len(boxes) == 0:
        return np.zeros((0, 4, 2), np.float32)
    boxes = np.asarray(boxes, dtype=np.float32).copy()
    boxes[:, :, 1] -= pad
    boxes /= s
    boxes[:, :, 0] = np.clip(boxes[:, :, 0], 0, w - 1)
    boxes[:, :, 1] = np.clip(boxes[:, :, 1], 0, h - 1)
    return boxes


def _box_dims(b: np.ndarray) -> tuple[float, float]:
    w = max(np.linalg.norm(b[0] - b[1]), np.linalg.norm(b[2] - b[3]))
    h = max(np.linalg.norm(b[0] - b[3]), np.linalg.norm(b[1] - b[2]))
    return float(w), float(h)


def _mostly_vertical(boxes: np.ndarray) -> bool:
    if len(boxes) < MIN_BOXES_FOR_ROTATION:
        return False
    tall = total = 0.0
    for b in boxes:
        w, h = _box_dims(b)
        weight = max(w, h)  # long lines count more than specks
        total += weight
        if h > 1.5 * w:
            tall += weight
    return total > 0 and tall / total >= VERTICAL_SHARE


def _rows(items: list) -> list[list]:
    """Rows of (box, text, score): boxes that overlap vertically by half a line form a row."""
    rows: list[dict] = []
    for it in sorted(items, key=lambda it: float(it[0][:, 1].min())):
        top, bottom = float(it[0][:, 1].min()), float(it[0][:, 1].max())
        hgt = max(bottom - top, 1.0)
        best = None
        for row in rows[-3:]:  # only recent rows can overlap a box that starts lower
            overlap = min(bottom, row["bottom"]) - max(top, row["top"])
            if overlap >= 0.5 * min(hgt, row["h"]):
                best = row
        if best is None:
            rows.append({"top": top, "bottom": bottom, "h": hgt, "items": [it]})
        else:
            best["items"].append(it)
            best["bottom"] = max(best["bottom"], bottom)
    rows.sort(key=lambda r: r["top"])
    return [sorted(r["items"], key=lambda it: float(it[0][:, 0].min())) for r in rows]


def _split(items: list, axis: int, min_gap: float) -> list[list]:
    """Split items where their projection on ``axis`` (0 = x, 1 = y) has a gap wider than min_gap."""
    order = sorted(items, key=lambda it: float(it[0][:, axis].min()))
    groups: list[list] = [[order[0]]]
    end = float(order[0][0][:, axis].max())
    for it in order[1:]:
        lo, hi = float(it[0][:, axis].min()), float(it[0][:, axis].max())
        if lo > end + min_gap:
            groups.append([it])
        else:
            groups[-1].append(it)
        end = max(end, hi)
    return groups


def _extent(items: list, axis: int) -> float:
    return max(float(it[0][:, axis].max()) for it in items) - min(float(it[0][:, axis].min()) for it in items)


def _reading_order(items: list, line_h: float | None = None, depth: int = 0) -> list[list]:
    """Rows of (box, text, score) in reading order: a recursive XY-cut.

    Blocks are separated at horizontal gaps of about a line height (paragraphs, sections) and,
    failing that, at vertical gutters of at least half a line height between two wide blocks (text
    columns, read left column first); inside a block, lines are grouped by vertical overlap and
    read top to bottom, left to right. Narrow blocks (form labels, values) are never cut apart
    from their row, so a form reads row by row.
    """
    if not items:
        return []
    if line_h is None:
        line_h = float(np.median([float(it[0][:, 1].max() - it[0][:, 1].min()) for it in items])) or 1.0
    if len(items) > 1 and depth < 32:
        groups = _split(items, 1, 0.8 * line_h)
        if len(groups) > 1:
            return [row for g in groups for row in _reading_order(g, line_h, depth + 1)]
        groups = _split(items, 0, 0.5 * line_h)
        width = _extent(items, 0)
        if len(groups) > 1 and all(len(g) >= 2 and _extent(g, 0) >= 0.25 * width for g in groups):
            return [row for g in groups for row in _reading_order(g, line_h, depth + 1)]
        # Full-width lines (headings, lists above/below the columns) glued to a column block by
        # a small gap: cut the block at each of them and try again between them.
        wide = [it for it in items if _extent([it], 0) > 0.55 * width]
        if wide and len(wide) < len(items) - 1:
            segments: list[list] = []
            run: list = []
            for it in sorted(items, key=lambda it: float(it[0][:, 1].min())):
                if _extent([it], 0) > 0.55 * width:
                    if run:
                        segments.append(run)
                        run = []
                    segments.append([it])
                else:
                    run.append(it)
            if run:
                segments.append(run)
            if any(len(seg) > 1 for seg in segments):
                rows: list[list] = []
                for seg in segments:
                    rows.extend(_rows(seg) if len(seg) == 1 else _reading_order(seg, line_h, depth + 1))
                return rows
    return _rows(items)


def ocr_image(img: Image.Image) -> OcrPage:
    """Read the text of one page image. Raises ExtractionError(ocr_failed) if the engine fails."""
    try:
        rgb = to_rgb_array(img)
        h0, w0 = rgb.shape[:2]
        if int(rgb.max()) - int(rgb.min()) < 16:  # blank page (one flat colour): nothing to read
            return OcrPage(text="", lines=[], mean_confidence=0.0, rotation=0)
        s = work_scale(w0, h0)
        bgr = np.ascontiguousarray(_resize(rgb, s)[:, :, ::-1])
        engine = get_engine()
        with _run_lock:
            rotation = 0
            boxes = _detect(engine, bgr)
            if _mostly_vertical(boxes):
                turned = np.ascontiguousarray(np.rot90(bgr, k=-1))  # 90 degrees clockwise
                boxes2 = _detect(engine, turned)
                if len(boxes2) and not _mostly_vertical(boxes2):
                    bgr, boxes, rotation = turned, boxes2, 90
            if len(boxes) == 0:
                return OcrPage(text="", lines=[], mean_confidence=0.0, rotation=rotation)
            boxes = np.asarray(engine.sorted_boxes(boxes), dtype=np.float32)
            crops = engine.get_crop_img_list(bgr, list(boxes))
            crops, cls_res, _ = engine.text_cls(crops)
            rec_res, _ = engine.text_rec(crops)
    except ExtractionError:
        raise
    except Exception as exc:  # onnxruntime / cv2 errors
        raise ExtractionError(OCR_FAILED, detail=f"{type(exc).__name__}: {exc}") from exc

    # Page upside down: the classifier flipped most lines (weighted by length).
    flipped = total = 0.0
    for b, (label, score) in zip(boxes, cls_res):
        weight = max(_box_dims(b))
        total += weight
        if label == "180" and score >= engine.text_cls.cls_thresh:
            flipped += weight
    hb, wb = bgr.shape[:2]
    if total > 0 and flipped / total > 0.5:
        rotation = (rotation + 180) % 360
        boxes = boxes.copy()
        boxes[:, :, 0] = (wb - 1) - boxes[:, :, 0]
        boxes[:, :, 1] = (hb - 1) - boxes[:, :, 1]
        boxes = boxes[:, [2, 3, 0, 1], :]  # keep corners clockwise from top-left

    items = []
    for b, (text, score, *_rest) in zip(boxes, rec_res):
        text = (text or "").strip()
        if text and float(score) >= TEXT_SCORE:
            items.append((b / s, text, float(score)))
    rows = _reading_order(items)
    lines = [
        OcrLine(text=t, confidence=c, box=tuple((float(x), float(y)) for x, y in b))
        for row in rows for (b, t, c) in row
    ]
    text = clean_ocr_text("\n".join(" ".join(t for _, t, _ in row) for row in rows))
    n = sum(len(ln.text) for ln in lines)
    mean = sum(len(ln.text) * ln.confidence for ln in lines) / n if n else 0.0
    return OcrPage(text=text, lines=lines, mean_confidence=mean, rotation=rotation)
