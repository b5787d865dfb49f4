"""OCR with RapidOCR 3.10 and its PP-OCRv6 small models on onnxruntime. The only module importing it.

Why not ``RapidOCR()(image)`` as is:

* RapidOCR turns a PIL image into an array with ``np.array(img)``. For a palette ("P") image, such as
  ``linn.png`` (a 1-bit scan saved as a 2-colour palette PNG), that array holds palette *indices*
  0/1, not grey levels, so the engine sees an all-black page and finds no text at all. The same
  happens with 16-bit ("I;16"/"I") greyscale and gives wrong colours for CMYK. We convert every
  input to 8-bit RGB ourselves (alpha composited onto white).
* It shrinks any page to 2000 px on the long side *before* cropping the text lines, so the
  recogniser reads lines from the shrunken page. We detect on a copy of at most ``DET_MAX_SIDE``
  px but crop the lines from the page at up to ``MAX_SIDE`` px.
* Small images are not enlarged (an enlarged photo made a printed word score just under the cut-off;
  bench/ocr.py --upscale 1500 reads nothing more): the detector scales its own copy and the
  recogniser reads every line at 48 px high anyway.
* Pages turned by 90/270 degrees: the detector then finds mostly upright (tall) boxes; we turn the
  page and detect again. Pages upside down (180, or 270 after our 90 turn) are found by the line
  orientation classifier on a sample of the longest lines, and turned as a whole (boxes mapped
  through a 180 degree turn) so the text reads top to bottom.
* Lines are recognised in batches capped by width (memory, see ``REC_BATCH_WIDTH``) and the reading
  order (columns, forms) and the reflow of wrapped Chinese sentences are ours.
* Lines of Chinese are read squeezed to the width they need (``_read_lines``): RapidOCR stretches
  every line to 48 px high, where a Chinese character is twice as wide as the recogniser needs; lines
  holding digits or Latin letters are read again as they are.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from archive_app.reading.errors import OCR_FAILED, ExtractionError
from archive_app.reading.text import LaidLine, clean_ocr_text, reflow_lines

# Models: (package whose wheel carries the file, file name). The PP-OCRv4 ones come with the former
# engine package (rapidocr_onnxruntime) and are only there for ``bench/ocr.py --engine`` comparisons.
MODELS = {
    "v6-small-det": ("rapidocr", "PP-OCRv6_det_small.onnx"),
    "v6-small-rec": ("rapidocr", "PP-OCRv6_rec_small.onnx"),
    "v4-mobile-det": ("rapidocr_onnxruntime", "ch_PP-OCRv4_det_infer.onnx"),
    "v4-mobile-rec": ("rapidocr_onnxruntime", "ch_PP-OCRv4_rec_infer.onnx"),
    "cls": ("rapidocr", "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
}
# The recogniser with int8 matrix products, built at install time from v6-small-rec (see
# ``reading.model_build``); read with when built, else v6-small-rec (same text, ~12 % more CPU).
REC_INT8 = "v6-small-rec-int8"
MODEL_VERSIONS = {"v6-small-det": "PP-OCRv6", "v6-small-rec": "PP-OCRv6", REC_INT8: "PP-OCRv6",
                  "v4-mobile-det": "PP-OCRv4", "v4-mobile-rec": "PP-OCRv4", "cls": "PP-OCRv4"}
DET_MODEL = "v6-small-det"
REC_MODEL = "v6-small-rec"  # the float model; ``rec_model()`` says which one is read with
CLS_MODEL = "cls"
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# Lines go to the recogniser in batches (sorted by width, so a batch pads little) of at most
# REC_BATCH_WIDTH pixels of 48 px high strip (batch size x widest line). The PP-OCRv6 recogniser's
# output is 18,710 scores per 8 px column: a batch of six full A4 lines held ~450 MB at once (peak
# RSS 1.3 GB); with two batches read at once (``Engine.recs``), batches this wide keep both near
# 100 MB at the same speed (a full A4 line is a batch of its own).
REC_BATCH_WIDTH = 2400
REC_BATCH_MAX = 16

# Long side of the image the recogniser crops lines from (downscale above it).
MAX_SIDE = 4000
# Long side of the copy the text detector runs on: 1,280 px holds 10 pt print of an A4 page at 300 dpi
# at ~16 px a line, which the detector finds as well as at 2,000 px (bench/ocr.py) in a third of the
# time. Pages where it finds nothing, or only lines under DET_MIN_LINE_PX high on its copy (tiny
# print on a huge page), are detected again on a copy of DET_RETRY_SIDE px.
DET_MAX_SIDE = 1280
DET_RETRY_SIDE = 2560
DET_MIN_LINE_PX = 10
DET_MIN_SIDE = 320
# Detection in horizontal bands of at most this many pixels, overlapping by DET_BAND_OVERLAP rows of
# the detector's copy (six 10 pt lines of an A4 page at 1,280 px), see ``_detect_bands``. 320,000
# rather than 480,000: bench/ocr.py's A4 pages peaked at 434 MB instead of 470, in the same time.
DET_BAND_PIXELS = 320_000
DET_BAND_OVERLAP = 96
DET_BAND_MIN_ROWS = 256
DET_MIN_STRIP = 32
DET_UPSCALE_MAX = 4.0
# Lines the recogniser is less sure of than this are dropped (RapidOCR's own default).
TEXT_SCORE = 0.5
# A page counts as turned by 90/270 degrees when this share of its (weighted) boxes is tall.
VERTICAL_SHARE = 0.6
MIN_BOXES_FOR_ROTATION = 3
# Lines the orientation classifier looks at first (the longest); the rest only if these say upside down.
CLS_SAMPLE = 8
# Lines are read squeezed horizontally where it is safe (see ``_read_lines``): the recogniser's time
# grows with a strip's width, and on its 48 px high strip a Chinese character of a 10 pt A4 page is
# ~47 px wide, twice what it needs. Measured on the pages of bench/ocr.py and of the quality suite:
# every Chinese page read as well at 0.45 of its width, ~21 px a character (dense A4 at 0.4 lost a
# character). Latin print and digits need more, and a share of it that differs by font: linn.png's
# English read 0.980 as unsqueezed at 0.73, 0.968 at 0.6, 0.668 at 0.5; digit runs with repeats
# (13800138000, 1,280,000) lose characters first (bench/ocr.py's contract page, 1.000 unsqueezed: 1
# line of 40 wrong at 0.75, 15 at 0.5). So a line whose reading holds a digit or a Latin letter is
# read again unsqueezed.
REC_SAMPLE = 4
REC_PX_WIDE = 21.0
REC_MIN_SQUEEZE = 0.4
# Lines of one page differ in box height, hence in width on the 48 px strip, by up to ~20 % for the
# same print (dense A4: 0.45-0.55 of their width needed): only a line needing more than this many
# times the width it was read at is read again.
REC_NEED_SLACK = 1.3
# A squeezed line read less surely than this is read again unsqueezed.
REC_RETRY_SCORE = 0.9


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


@dataclass
class Engine:
    """Text detector, line orientation classifier and recognisers (RapidOCR components on onnxruntime)."""

    name: str
    det: Any
    cls: Any
    rec: Any
    # The components keep per-call state (the detector stores its pre-processor on self), so one page
    # at a time goes through an engine; onnxruntime itself uses ``threads`` cores for each call.
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Threads reading batches of one page's lines at the same time, each in the calling thread of
    # ``rec`` (a one-thread onnxruntime session: runs may overlap, and the recogniser keeps no state
    # between calls). None: one batch at a time, ``rec`` using ``threads`` cores.
    pool: ThreadPoolExecutor | None = None

    @property
    def charset(self) -> set[str]:
        """The characters the recogniser can output."""
        return set(self.rec.postprocess_op.character)


def model_path(model: str) -> Path:
    """The ONNX file of ``model`` (a key of MODELS, or REC_INT8), from the installed wheel or built
    at install time: never downloaded."""
    if model == REC_INT8:
        path = _int8_path()
        if not path.is_file():
            raise ExtractionError(OCR_FAILED, detail=f"OCR model {model}: {path} missing "
                                  "(scripts/install-ocr-model.sh builds it)")
        return path
    package, filename = MODELS[model]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ExtractionError(OCR_FAILED, detail=f"OCR model {model}: package {package} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / filename
    if not path.is_file():
        raise ExtractionError(OCR_FAILED, detail=f"OCR model {model}: {path} missing")
    return path


def _int8_path() -> Path:
    from archive_app.reading.model_build import default_model_path

    return Path(_rec_model_file) if _rec_model_file else default_model_path()


def rec_model() -> str:
    """The recogniser pages are read with: REC_INT8 when it is set (``set_rec_model``) or built where
    ``scripts/install-ocr-model.sh`` puts it, else the float REC_MODEL."""
    return REC_INT8 if _rec_model_file or _int8_path().is_file() else REC_MODEL


def build_engine(det: str = DET_MODEL, rec: str | None = None, threads: int | None = None,
                 rec_parallel: int | None = None) -> Engine:
    """A new engine with the given detection and recognition models (recognition default:
    ``rec_model()``) and onnxruntime threads per call (default: the threads set by ``set_threads``,
    else every core). Recognition reads ``rec_parallel`` batches at once, one thread each (default:
    as many as ``threads``)."""
    rec = rec or rec_model()
    threads = threads or _threads or os.cpu_count() or 1
    rec_parallel = max(1, rec_parallel or threads)
    _map_big_blocks()
    # Recognition: with rec_parallel > 1 its session runs on one thread and a page's batches of lines
    # are read side by side: one onnxruntime call splitting a batch over two threads spent ~25-60 %
    # more CPU than one thread for the same batch (the threads wait on each other inside every
    # layer). One session serves the threads (a second would hold a second copy of the weights).
    ocr = _rapidocr(det, rec, threads if rec_parallel == 1 else 1, arena=True)
    detector = _rapidocr(det, rec, threads, arena=False)._load_det_model()
    # Detection runs one band at a time on ``threads`` threads (bands side by side, one thread each,
    # took as little CPU but raised a worker's peak by ~60 MB, over 500 MB), without a memory arena
    # (a few big runs per page, whose peak an arena would only raise) and with threads that sleep
    # rather than spin while they wait for each other: dense A4 page 1.9 -> 1.55 CPU-s.
    detector.session.session = _det_session(model_path(det), threads)
    # PaddleOCR normalises the detector's input with ImageNet's mean and deviation; RapidOCR's default
    # (0.5, 0.5) made the PP-OCRv6 detector miss the one line of hugemono.pdf (a 35,000 px page) at
    # every size, and changes nothing on the other bench pages (same accuracy or +0.001).
    detector.mean, detector.std = IMAGENET_MEAN, IMAGENET_STD
    # RapidOCR's detector enlarges any image whose *short* side is under 736 px (limit_type "min"):
    # a 280 x 32 photographed line (padded to 280 x 70) was detected on a 2,944 x 736 copy, twice the
    # pixels of a whole A4 page. ``_detect_at`` sizes the copy itself; the detector only rounds it to
    # multiples of 32.
    detector.limit_type, detector.limit_side_len = "max", DET_RETRY_SIDE
    name = f"det {det} + rec {rec}"
    pool = None if rec_parallel == 1 else ThreadPoolExecutor(rec_parallel, thread_name_prefix="ocr")
    engine = Engine(name, detector, ocr._load_cls_model(), ocr._load_rec_model(), pool=pool)
    for component in (engine.cls, engine.rec):
        component.session.session = _ShrinkingSession(component.session.session)
    return engine


def _det_session(path: Path, threads: int) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = False
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class _ShrinkingSession:
    """An onnxruntime session whose memory arena is given back at the end of every run.

    With the arena a run's tensors reuse the memory of the run's earlier layers: recognition took
    ~17 % less CPU than with plain malloc/free per tensor (RapidOCR's default, arena off; ~25 % with
    the int8 recogniser) at the same peak. Kept between runs the arena would hold every page's peak (a process read
    the bench's A4 pages at 736 MB); shrunk after each run (``memory.enable_memory_arena_shrinkage``)
    the process stays where it was without it."""

    def __init__(self, session: Any) -> None:
        import onnxruntime

        self._session = session
        self._options = onnxruntime.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: Any, input_feed: dict, run_options: Any = None) -> Any:
        return self._session.run(output_names, input_feed, run_options or self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _rapidocr(det: str, rec: str, threads: int, arena: bool):
    from rapidocr import OCRVersion, RapidOCR

    # Every model path is given, so RapidOCR never reaches for its download URLs (model_root_dir is
    # only used when a path is missing: pointing it nowhere makes such a slip fail loudly). Models
    # are loaded when first asked for.
    params = {
        "Global.log_level": "warning",
        "Global.model_root_dir": "/nonexistent/rapidocr-models",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        # See ``_ShrinkingSession``.
        "EngineConfig.onnxruntime.enable_cpu_mem_arena": arena,
        "Det.model_path": str(model_path(det)),
        "Det.ocr_version": OCRVersion(MODEL_VERSIONS[det]),
        "Cls.model_path": str(model_path(CLS_MODEL)),
        "Rec.model_path": str(model_path(rec)),
        "Rec.ocr_version": OCRVersion(MODEL_VERSIONS[rec]),
        "Rec.rec_batch_num": REC_BATCH_MAX,
    }
    return RapidOCR(params=params)


_engine: Engine | None = None
_engine_lock = threading.Lock()
_threads = 0
_rec_model_file = ""


def set_rec_model(path: str) -> None:
    """The int8 recogniser's file for the process-wide engine (empty: where
    ``scripts/install-ocr-model.sh`` builds it, the float model if it is not there). Takes effect
    for an engine not yet created; workers call it before their first page."""
    global _rec_model_file
    _rec_model_file = path or ""


def set_threads(threads: int) -> None:
    """onnxruntime threads per call for the process-wide engine (0: every core). Takes effect for an
    engine not yet created; workers call it before their first page."""
    global _threads
    _threads = max(0, int(threads))


def get_engine() -> Engine:
    """The process-wide engine, created on first use (thread-safe)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = build_engine()
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


SMALL_SIDE = 0  # no enlargement (see the module docstring); kept for bench/ocr.py --upscale
UPSCALE_MAX = 3.0
# RapidOCR pads strips flatter than this (width / height), or lower than MIN_HEIGHT, before detection.
WIDTH_HEIGHT_RATIO = 8
MIN_HEIGHT = 30


def work_scale(w: int, h: int) -> float:
    """Scale applied to an input image before OCR (down for huge pages; up only if SMALL_SIDE is set)."""
    long = max(w, h)
    if long > MAX_SIDE:
        return MAX_SIDE / long
    if long < SMALL_SIDE:
        return min(UPSCALE_MAX, SMALL_SIDE / long)
    return 1.0


def _detect(engine: Engine, bgr: np.ndarray) -> np.ndarray:
    """Text boxes (N x 4 x 2, float32) in ``bgr`` coordinates, detected on a copy <= DET_MAX_SIDE
    (again on one <= DET_RETRY_SIDE when the first finds no line of DET_MIN_LINE_PX)."""
    h, w = bgr.shape[:2]
    boxes = _detect_at(engine, bgr, DET_MAX_SIDE)
    scale = min(1.0, DET_MAX_SIDE / max(h, w))
    if scale < 1.0 and DET_RETRY_SIDE > DET_MAX_SIDE and (
            len(boxes) == 0 or max(_box_dims(b)[1] for b in boxes) * scale < DET_MIN_LINE_PX):
        boxes = _detect_at(engine, bgr, DET_RETRY_SIDE)
    return boxes


def _detect_at(engine: Engine, bgr: np.ndarray, side: int) -> np.ndarray:
    h, w = bgr.shape[:2]
    s = min(1.0, side / max(h, w))
    # A flat strip is one line: its height is the line's, and it is padded below, not enlarged.
    least = DET_MIN_STRIP if w > WIDTH_HEIGHT_RATIO * h else DET_MIN_SIDE
    if least and min(h, w) * s < least:
        s = min(least / min(h, w), side / max(h, w), DET_UPSCALE_MAX)
    small = _resize(bgr, s)
    # Very flat strips (one text line) confuse the detector; pad them as RapidOCR does.
    sh, sw = small.shape[:2]
    pad = 0
    if sh <= MIN_HEIGHT or sw / sh > WIDTH_HEIGHT_RATIO:
        new_h = max(int(sw / WIDTH_HEIGHT_RATIO), MIN_HEIGHT) * 2
        pad = int(abs(new_h - sh) / 2)
        small = cv2.copyMakeBorder(small, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    boxes = _detect_bands(engine, small)
    if len(boxes) == 0:
        return boxes
    boxes[:, :, 1] -= pad
    boxes /= s
    boxes[:, :, 0] = np.clip(boxes[:, :, 0], 0, w - 1)
    boxes[:, :, 1] = np.clip(boxes[:, :, 1], 0, h - 1)
    return boxes


def _detect_bands(engine: Engine, img: np.ndarray) -> np.ndarray:
    """Text boxes of ``img`` (the detector's copy), read in overlapping horizontal bands of at most
    DET_BAND_PIXELS pixels: the detector's activations grow with its input (~400 MB for an A4 page's
    905 x 1,280 copy, most of a worker's peak memory), a band's are a quarter of that. Each band keeps
    the boxes whose centre lies in its half of the overlaps, so a line is kept once, whole as long
    as it is no taller than DET_BAND_OVERLAP."""
    h, w = img.shape[:2]
    rows = max(DET_BAND_MIN_ROWS, DET_BAND_PIXELS // max(w, 1) // 32 * 32)
    if h <= rows + DET_BAND_OVERLAP:
        return _detector_boxes(engine, img)
    step = rows - DET_BAND_OVERLAP
    starts = list(range(0, h - rows, step)) + [h - rows]
    found = []
    for k, y0 in enumerate(starts):
        lo = (y0 + starts[k - 1] + rows) / 2 if k else -np.inf
        hi = (starts[k + 1] + y0 + rows) / 2 if k + 1 < len(starts) else np.inf
        boxes = _detector_boxes(engine, img[y0:y0 + rows])
        if len(boxes):
            boxes[:, :, 1] += y0
            centre = boxes[:, :, 1].mean(axis=1)
            found.append(boxes[(centre >= lo) & (centre < hi)])
    return np.concatenate(found) if found else np.zeros((0, 4, 2), np.float32)


def _detector_boxes(engine: Engine, img: np.ndarray) -> np.ndarray:
    boxes = engine.det(np.ascontiguousarray(img)).boxes
    if boxes is None or len(boxes) == 0:
        return np.zeros((0, 4, 2), np.float32)
    return np.asarray(boxes, dtype=np.float32).copy()


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

    Blocks are separated at horizontal gaps of 0.6 line height (paragraphs, sections: 0.8 missed the
    gap above linn.png's two columns once boxes came from the 1,280 px detection copy) and,
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
        groups = _split(items, 1, 0.6 * line_h)
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


def _crop(bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The line under ``box`` straightened to a horizontal strip (tall strips turned, as RapidOCR does)."""
    w, h = _box_dims(box)
    w, h = max(1, int(w)), max(1, int(h))
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(box.astype(np.float32), dst)
    crop = cv2.warpPerspective(bgr, m, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if h / w >= 1.5:
        crop = np.rot90(crop)
    return np.ascontiguousarray(crop)


def _upside_down(engine: Engine, boxes: np.ndarray, crops: list[np.ndarray]) -> bool:
    """Whether the page reads upside down, by the orientation classifier on its longest lines.

    Only the CLS_SAMPLE longest lines are classified (one call of a tiny model): an upright page, the
    usual case, costs no more, and an upside-down page is turned as a whole — per line the classifier
    left a few short lines of a turned page unturned, and they were read as garbage."""
    weights = [max(_box_dims(b)) for b in boxes]
    sample = sorted(range(len(crops)), key=lambda k: -weights[k])[:CLS_SAMPLE]
    res = engine.cls([crops[k] for k in sample]).cls_res
    total = sum(weights[k] for k in sample)
    flipped = sum(weights[k] for k, (label, score) in zip(sample, res)
                  if label == "180" and score >= engine.cls.cls_thresh)
    return total > 0 and flipped / total > 0.5


def _read_lines(engine: Engine, crops: list[np.ndarray]) -> tuple[list[str], list[float]]:
    """Text and score of each line crop. The REC_SAMPLE longest lines are read as they are; when
    they say it pays (``squeeze_for``), the rest are read squeezed, and those whose reading holds a
    digit or a Latin letter, is unsure or needed more width (``width_needed``) are read again as they
    are, that reading replacing the squeezed one (a dropped digit can come with a high score)."""
    width = [48 * c.shape[1] / max(1, c.shape[0]) for c in crops]
    order = sorted(range(len(crops)), key=lambda k: -width[k])
    sample, rest = order[:REC_SAMPLE], order[REC_SAMPLE:]
    txts: list[str] = [""] * len(crops)
    scores: list[float] = [0.0] * len(crops)

    def read(ids: list[int], squeeze: float) -> None:
        got = _recognise(engine, [_squeeze(crops[k], squeeze) for k in ids])
        for k, t, sc in zip(ids, *got):
            txts[k], scores[k] = t, sc

    read(sample, 1.0)
    squeeze = squeeze_for([(txts[k], width[k], scores[k]) for k in sample]) if rest else 1.0
    read(rest, squeeze)
    if squeeze < 1.0:
        again = [k for k in rest if not _safe_squeezed(txts[k], width[k], scores[k], squeeze)]
        if again:
            read(again, 1.0)
    return txts, scores


def _wide(c: str) -> bool:
    return unicodedata.east_asian_width(c) in "WF"


def width_needed(text: str) -> float:
    """Pixels a reading of Chinese characters (and punctuation, spaces) needs on the recogniser's
    48 px high strip to be as good as unsqueezed: REC_PX_WIDE a wide character, half that a narrow one."""
    wide = sum(1 for c in text if _wide(c))
    return REC_PX_WIDE * (wide + (len(text) - wide) / 2)


def _needs_full_width(text: str) -> bool:
    """Whether a reading holds digits or Latin (narrow) letters: those lines are read unsqueezed."""
    return any(c.isdigit() or (c.isalpha() and not _wide(c)) for c in text)


def _safe_squeezed(text: str, width: float, score: float, squeeze: float) -> bool:
    """Whether a line read at ``squeeze`` (``width``: its unsqueezed px) can keep that reading: it is
    sure, holds no digit or Latin letter, and needed no more than REC_NEED_SLACK times the width it had."""
    return (score >= REC_RETRY_SCORE and not _needs_full_width(text)
            and width_needed(text) <= REC_NEED_SLACK * squeeze * width)


def squeeze_for(sample: list[tuple[str, float, float]]) -> float:
    """The squeeze the lines of a page are first read at (1.0: as they are), from its sample lines'
    (text, width in px on the unsqueezed 48 px strip, score): the median of what the lines of Chinese
    read surely need (``width_needed``), no less than REC_MIN_SQUEEZE. Lines holding digits or Latin
    letters are read again unsqueezed, so squeezing pays only when fewer of them than 1 - squeeze are
    expected (the sample's share)."""
    if not sample:
        return 1.0
    full = [_needs_full_width(text) for text, _, _ in sample]
    needs = [width_needed(text) / width for (text, width, score), f in zip(sample, full)
             if score >= REC_RETRY_SCORE and len(text) >= 4 and not f]
    if not needs:
        return 1.0
    squeeze = min(1.0, max(REC_MIN_SQUEEZE, float(np.median(needs))))
    return squeeze if squeeze + sum(full) / len(sample) < 1.0 else 1.0


def _squeeze(crop: np.ndarray, factor: float) -> np.ndarray:
    """``crop`` narrowed to ``factor`` of its width (lines only: a crop not twice as wide as high, a
    character or two, is left as it is)."""
    h, w = crop.shape[:2]
    if factor >= 1.0 or w < 2 * h:
        return crop
    return np.ascontiguousarray(cv2.resize(crop, (max(1, round(w * factor)), h), interpolation=cv2.INTER_AREA))


def _recognise(engine: Engine, crops: list[np.ndarray]) -> tuple[list[str], list[float]]:
    """Text and score of each crop, in batches of at most REC_BATCH_WIDTH (see there), read by the
    engine's recognisers side by side."""
    from rapidocr.ch_ppocr_rec.typings import TextRecInput

    if not crops:
        return [], []

    width = [48 * c.shape[1] / max(1, c.shape[0]) for c in crops]
    order = sorted(range(len(crops)), key=lambda k: width[k])
    batches: list[list[int]] = []
    k = 0
    while k < len(order):
        n = 1
        while (k + n < len(order) and n < REC_BATCH_MAX
               and (n + 1) * max(width[order[k + n]], 320) <= REC_BATCH_WIDTH):
            n += 1
        batches.append(order[k:k + n])
        k += n
    txts: list[str] = [""] * len(crops)
    scores: list[float] = [0.0] * len(crops)
    if engine.pool is None or len(batches) == 1:
        results = [engine.rec(TextRecInput(img=[crops[j] for j in b], return_word_box=False)) for b in batches]
    else:
        # Widest batches first, so the last one to finish is a short one.
        batches.reverse()
        results = list(engine.pool.map(
            lambda b: engine.rec(TextRecInput(img=[crops[j] for j in b], return_word_box=False)), batches))
    for batch, res in zip(batches, results):
        for j, t, sc in zip(batch, res.txts, res.scores):
            txts[j], scores[j] = t, float(sc)
    return txts, scores


def _give_back_memory() -> None:
    """Return freed heap to the system (glibc keeps it otherwise: a worker's RSS stayed at the peak of
    its biggest page, ~550 MB, instead of ~230 MB between pages)."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None
# Heap blocks of at least this many bytes are mapped on their own and unmapped when freed (glibc
# mallopt M_MMAP_THRESHOLD; its default threshold climbs to 32 MB after the first big free). The
# engines' activations (tens of MB each, allocated and freed by every layer, from two recognition
# threads' heaps) otherwise stay in fragmented heaps: peak RSS of bench/ocr.py 590-620 MB; with 4 MB
# 530 MB, with 2 MB 485 MB, for ~0.3 CPU-s more page faulting per A4 page (1 MB: ~3 CPU-s).
MMAP_THRESHOLD = 2 << 20
_M_MMAP_THRESHOLD = -3


def _map_big_blocks() -> None:
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):  # not glibc
        pass


def ocr_image(img: Image.Image, engine: Engine | None = None) -> OcrPage:
    """Read the text of one page image. Raises ExtractionError(ocr_failed) if the engine fails."""
    try:
        rgb = to_rgb_array(img)
        # In place where numpy allows (an A4 page at 300 dpi is 26 MB a copy).
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR, dst=rgb if rgb.flags.writeable else None)
        del rgb
    except Exception as exc:  # PIL / cv2 errors
        raise ExtractionError(OCR_FAILED, detail=f"{type(exc).__name__}: {exc}") from exc
    return ocr_bgr(bgr, engine)


def ocr_bgr(page: np.ndarray, engine: Engine | None = None) -> OcrPage:
    """Read the text of one page given as an H x W x 3 uint8 BGR array (pdfium's and OpenCV's order;
    ``pdf.render_bgr``), which is read, not changed. Raises ExtractionError(ocr_failed) if the
    engine fails."""
    try:
        return _ocr_bgr(page, engine)
    finally:
        _give_back_memory()


def _ocr_bgr(page: np.ndarray, engine: Engine | None) -> OcrPage:
    try:
        h0, w0 = page.shape[:2]
        if int(page.max()) - int(page.min()) < 16:  # blank page (one flat colour): nothing to read
            return OcrPage(text="", lines=[], mean_confidence=0.0, rotation=0)
        s = work_scale(w0, h0)
        bgr = np.ascontiguousarray(_resize(page, s))
        engine = engine or get_engine()
        with engine.lock:
            rotation = 0
            boxes = _detect(engine, bgr)
            if _mostly_vertical(boxes):
                turned = np.ascontiguousarray(np.rot90(bgr, k=-1))  # 90 degrees clockwise
                boxes2 = _detect(engine, turned)
                if len(boxes2) and not _mostly_vertical(boxes2):
                    bgr, boxes, rotation = turned, boxes2, 90
            if len(boxes) == 0:
                return OcrPage(text="", lines=[], mean_confidence=0.0, rotation=rotation)
            crops = [_crop(bgr, b) for b in boxes]
            upside_down = _upside_down(engine, boxes, crops)
            if upside_down:
                crops = [np.ascontiguousarray(c[::-1, ::-1]) for c in crops]
            txts, scores = _read_lines(engine, crops)
    except ExtractionError:
        raise
    except Exception as exc:  # onnxruntime / cv2 errors
        raise ExtractionError(OCR_FAILED, detail=f"{type(exc).__name__}: {exc}") from exc

    hb, wb = bgr.shape[:2]
    if upside_down:
        rotation = (rotation + 180) % 360
        boxes = boxes.copy()
        boxes[:, :, 0] = (wb - 1) - boxes[:, :, 0]
        boxes[:, :, 1] = (hb - 1) - boxes[:, :, 1]
        boxes = boxes[:, [2, 3, 0, 1], :]  # keep corners clockwise from top-left

    items = []
    for b, text, score in zip(boxes, txts, scores):
        text = (text or "").strip()
        if text and float(score) >= TEXT_SCORE:
            items.append((b / s, text, float(score)))
    rows = _reading_order(items)
    lines = [
        OcrLine(text=t, confidence=c, box=tuple((float(x), float(y)) for x, y in b))
        for row in rows for (b, t, c) in row
    ]
    text = clean_ocr_text(reflow_lines([_row_line(row) for row in rows]))
    n = sum(len(ln.text) for ln in lines)
    mean = sum(len(ln.text) * ln.confidence for ln in lines) / n if n else 0.0
    return OcrPage(text=text, lines=lines, mean_confidence=mean, rotation=rotation)


def _row_line(row: list) -> LaidLine:
    xs = [float(v) for b, _, _ in row for v in b[:, 0]]
    ys = [float(v) for b, _, _ in row for v in b[:, 1]]
    return LaidLine(" ".join(t for _, t, _ in row), min(xs), max(xs), min(ys), max(ys), len(row))
