"""Upload benchmark: HTTP API (`archive serve`, gunicorn) against writing straight into the file store.

Run from the project's virtualenv:

    python bench/upload.py                      # 500 MB PDF + 1000 scans of ~200 KB
    python bench/upload.py --big-mb 50 --scans 100 --workers 4 --keep

It sets up a throw-away data dir (SQLite + file store), an archivist user and an API token, starts
`archive serve` on a free 127.0.0.1 port, then measures

1. one big PDF (a real, parseable one-page PDF whose content stream is --big-mb MB of filler),
   generated on disk and streamed from disk by the client, never held in memory;
2. --scans distinct ~200 KB JPEGs, one record each, on --workers client threads;
3. the server's peak resident memory growth over its baseline (VmRSS of the serving process and
   any children, sampled every 50 ms from /proc);
4. the same bytes written with FilesystemStore.put in the same run, as the direct baseline;

and prints a table and a verdict against the targets (big-file HTTP throughput >= 70 % of direct,
server memory growth < 100 MB). This is a benchmark, not a test: it always exits 0 unless the
setup or an upload fails.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import FilesystemStore

MB = 1024 * 1024
CHUNK = 1024 * 1024
ADMIN_PASSWORD = "bench-ledger-Passw0rd"  # must pass the password rules (no username inside)
BENCH_PASSWORD = "bench-user-Passw0rd"
BIG_RECORD_TYPE = "购房合同"
SCAN_RECORD_TYPE = "身份证复印件"
TARGET_RATIO = 0.70
TARGET_RSS_MB = 100.0


# --------------------------------------------------------------------------- test data


def write_big_pdf(path: Path, size_mb: int) -> int:
    """Write a valid one-page PDF of about size_mb MiB, streaming to disk; return its size.

    The page's content stream holds the filler: pseudo-random bytes (like a compressed scan, so
    the multipart parser sees realistic data, not long runs of one byte). The xref table has the
    real byte offsets, so pypdf reads it without any repair.
    """
    filler = size_mb * MB
    block = random.Random(1).randbytes(4 * MB)
    offsets: list[int] = []
    with open(path, "wb") as fh:
        def obj(body: bytes) -> None:
            offsets.append(fh.tell())
            fh.write(body)

        fh.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        obj(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
        obj(b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n")
        obj(b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>\nendobj\n")
        obj(b"4 0 obj\n<< /Length %d >>\nstream\n" % filler)
        left = filler
        while left:
            n = min(left, len(block))
            fh.write(block[:n])
            left -= n
        fh.write(b"\nendstream\nendobj\n")
        xref = fh.tell()
        fh.write(b"xref\n0 %d\n" % (len(offsets) + 1))
        fh.write(b"0000000000 65535 f \n")
        fh.writelines(b"%010d 00000 n \n" % off for off in offsets)
        fh.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref))
        return fh.tell()


def base_jpeg(target: int = 200 * 1024) -> bytes:
    """One real JPEG of roughly `target` bytes (noisy grey 'scan')."""
    rnd = random.Random(2)
    side = 360
    data = b""
    for _ in range(8):
        img = Image.frombytes("L", (side, side), rnd.randbytes(side * side)).convert("RGB")
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85)
        data = buf.getvalue()
        if abs(len(data) - target) < target * 0.1:
            break
        side = max(64, int(side * (target / len(data)) ** 0.5))
    return data


def write_scans(folder: Path, count: int) -> list[Path]:
    """`count` distinct JPEGs: the same image with a unique COM (comment) segment after SOI."""
    folder.mkdir(parents=True, exist_ok=True)
    base = base_jpeg()
    assert base[:2] == b"\xff\xd8"
    paths = []
    for i in range(count):
        comment = f"bench scan {i} {uuid.uuid4().hex}".encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        path = folder / f"scan-{i:05d}.jpg"
        path.write_bytes(base[:2] + segment + base[2:])
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- streaming multipart


class MultipartBody:
    """A multipart/form-data body streamed from disk in 1 MiB chunks, with a known length.

    requests sees an iterable with __len__, so it sends Content-Length (not chunked) and lets
    urllib3 send each chunk as it comes: the client never holds a file in memory.
    """

    def __init__(self, fields: dict[str, str], files: list[tuple[str, Path, str]]) -> None:
        self.boundary = f"----archive-bench-{uuid.uuid4().hex}"
        b = self.boundary.encode()
        self._parts: list[bytes | Path] = []
        for name, value in fields.items():
            self._parts.append(b"--" + b + b'\r\nContent-Disposition: form-data; name="' + name.encode()
                               + b'"\r\n\r\n' + value.encode() + b"\r\n")
        for name, path, mime in files:
            self._parts.append(b"--" + b + b'\r\nContent-Disposition: form-data; name="' + name.encode()
                               + b'"; filename="' + path.name.encode() + b'"\r\nContent-Type: '
                               + mime.encode() + b"\r\n\r\n")
            self._parts.append(path)
            self._parts.append(b"\r\n")
        self._parts.append(b"--" + b + b"--\r\n")
        self._length = sum(p.stat().st_size if isinstance(p, Path) else len(p) for p in self._parts)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            if isinstance(part, Path):
                with open(part, "rb") as fh:
                    while chunk := fh.read(CHUNK):
                        yield chunk
            else:
                yield part


# --------------------------------------------------------------------------- server process


def _children(pid: int) -> list[int]:
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(x) for x in fh.read().split()]
        except OSError:
            pass
    return out


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (in case `archive serve` ever forks or execs a child)."""
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo += _children(p)
    return seen


def rss_bytes(pid: int) -> int:
    """Sum of VmRSS over the process tree rooted at pid."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


class RssSampler(threading.Thread):
    """Samples the server tree's RSS every 50 ms; `peak_since(mark)` gives the max after a mark."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.samples.append((time.monotonic(), rss_bytes(self.pid)))
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def peak(self, start: float, end: float | None = None) -> int:
        vals = [v for t, v in self.samples if t >= start and (end is None or t <= end)]
        return max(vals) if vals else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def archive_cmd() -> str:
    exe = Path(sys.executable).parent / "archive"
    if not exe.exists():
        sys.exit(f"no `archive` console script next to {sys.executable}; run with the project's venv python")
    return str(exe)


def run_archive(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([archive_cmd(), *args], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"archive {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def wait_ready(base: str, token: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"archive serve exited with {server.returncode}")
        try:
            r = requests.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=2)
            if r.status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError("archive serve did not become ready")


# --------------------------------------------------------------------------- the benchmark


def stop_server(server: subprocess.Popen | None, log, timeout: float) -> None:
    """Stop a server this bench started (terminate, then kill after ``timeout`` s) and close its log."""
    if server is not None and server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if log is not None:
        log.close()


def upload(session: requests.Session, url: str, token: str, path: Path, mime: str, record_type: str,
           confirm_duplicate: bool = False) -> dict:
    fields = {"record_type": record_type} | ({"confirm_duplicate": "1"} if confirm_duplicate else {})
    body = MultipartBody(fields, [("files", path, mime)])
    r = session.post(url, data=body, headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": body.content_type}, timeout=3600)
    if r.status_code != 201:
        raise RuntimeError(f"upload of {path.name} failed: {r.status_code} {r.text[:500]}")
    return r.json()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--big-mb", type=int, default=500, help="size of the big PDF in MiB (default 500)")
    ap.add_argument("--scans", type=int, default=1000, help="number of ~200 KB JPEG scans (default 1000)")
    ap.add_argument("--workers", type=int, default=4, help="client threads for the scans (default 4)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="big-file rounds, HTTP and direct alternating; medians are reported (default 3)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (data, logs, generated files)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="archive-bench-"))
    data_dir, gen_dir, direct_dir = tmp / "data", tmp / "input", tmp / "direct"
    gen_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(ARCHIVE_DATA_DIR=str(data_dir), ARCHIVE_ADMIN_PASSWORD=ADMIN_PASSWORD,
               ARCHIVE_MAX_UPLOAD_MB=str(max(1024, args.big_mb + 64)))
    server: subprocess.Popen | None = None
    sampler: RssSampler | None = None
    log = None
    try:
        print(f"temp dir: {tmp}")
        t0 = time.monotonic()
        big = gen_dir / "big.pdf"
        big_size = write_big_pdf(big, args.big_mb)
        scans = write_scans(gen_dir / "scans", args.scans)
        scan_bytes = sum(p.stat().st_size for p in scans)
        print(f"generated {big_size / MB:.1f} MiB PDF and {len(scans)} JPEGs "
              f"({scan_bytes / len(scans) / 1024:.0f} KiB each on average) in {time.monotonic() - t0:.1f} s")

        run_archive(env, "init")
        run_archive(env, "create-user", "bench", "--role", "archivist", "--password", BENCH_PASSWORD,
                    "--department", "档案室", "--display-name", "基准测试")
        token = run_archive(env, "create-token", "bench").strip().splitlines()[-1]

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = open(tmp / "server.log", "wb")  # noqa: SIM115 (closed in the finally below, after the server)
        server = subprocess.Popen([archive_cmd(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_ready(base, token, server)
        auth = {"Authorization": f"Bearer {token}"}
        r = requests.post(f"{base}/api/v1/customers", json={"name": "基准测试客户", "kind": "person"},
                          headers=auth, timeout=30)
        if r.status_code != 201:
            raise RuntimeError(f"creating the customer failed: {r.status_code} {r.text}")
        records_url = f"{base}/api/v1/customers/{r.json()['id']}/records"

        # Warm the serving path once (imports of pypdf/Pillow, first DB writes) before the baseline.
        warm = gen_dir / "warm.jpg"
        warm.write_bytes(scans[0].read_bytes()[:2] + b"\xff\xfe\x00\x06warm" + scans[0].read_bytes()[2:])
        with requests.Session() as s:
            upload(s, records_url, token, warm, "image/jpeg", SCAN_RECORD_TYPE)
        server_pids = process_tree(server.pid)
        sampler = RssSampler(server.pid)
        sampler.start()
        time.sleep(0.5)
        baseline = min(v for _, v in sampler.samples)

        # 1. the big PDF, HTTP and direct in alternation. Each timing starts after os.sync() so
        # neither pays for the other's dirty-page writeback (which varies a lot on this disk).
        store = FilesystemStore(direct_dir)
        http_times, direct_times = [], []
        t_big0 = time.monotonic()
        for round_no in range(args.repeat):
            os.sync()
            with requests.Session() as s:
                t0 = time.monotonic()
                big_rec = upload(s, records_url, token, big, "application/pdf", BIG_RECORD_TYPE,
                                 confirm_duplicate=round_no > 0)
                http_times.append(time.monotonic() - t0)
            assert big_rec["files"][0]["size"] == big_size, big_rec
            os.sync()
            t0 = time.monotonic()
            with open(big, "rb") as fh:
                res = store.put(f"direct/{uuid.uuid4().hex}", fh)
            direct_times.append(time.monotonic() - t0)
            assert res.size == big_size
        t_big1 = time.monotonic()
        http_big_s = statistics.median(http_times)
        direct_big_s = statistics.median(direct_times)
        print("big-file rounds, seconds: HTTP " + ", ".join(f"{t:.2f}" for t in http_times)
              + " | direct " + ", ".join(f"{t:.2f}" for t in direct_times))
        time.sleep(0.2)

        # 2. the scans over HTTP, one record each
        local = threading.local()

        def send(path: Path) -> None:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            upload(local.session, records_url, token, path, "image/jpeg", SCAN_RECORD_TYPE)

        t_sc0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            list(pool.map(send, scans))
        t_sc1 = time.monotonic()
        http_scans_s = t_sc1 - t_sc0
        time.sleep(0.2)
        sampler.stop()
        peak_big = sampler.peak(t_big0, t_big1 + 0.2)
        peak_scans = sampler.peak(t_sc0, t_sc1 + 0.2)
        peak_all = sampler.peak(t_big0)

        # 3. the same scans straight into a FilesystemStore
        def put_direct(path: Path) -> None:
            with open(path, "rb") as fh:
                store.put(f"direct/{uuid.uuid4().hex}", fh)

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            list(pool.map(put_direct, scans))
        direct_scans_s = time.monotonic() - t0

        # 4. report
        big_mib = big_size / MB
        http_big = big_mib / http_big_s
        direct_big = big_mib / direct_big_s
        http_fps = len(scans) / http_scans_s
        direct_fps = len(scans) / direct_scans_s
        ratio_big = http_big / direct_big
        ratio_scans = http_fps / direct_fps
        def growth(peak: int) -> float:
            return max(0, peak - baseline) / MB


        print()
        print(f"server pid(s): {server_pids}; {os.cpu_count()} CPU(s); client threads for scans: {args.workers}")
        print(f"server RSS baseline: {baseline / MB:.1f} MiB")
        print()
        print(f"{'':28}{'HTTP API':>14}{'direct store':>14}{'HTTP/direct':>13}")
        print(f"{f'big PDF ({big_mib:.0f} MiB), MiB/s':28}{http_big:14.1f}{direct_big:14.1f}{ratio_big:12.0%}")
        print(f"{'big PDF, seconds':28}{http_big_s:14.2f}{direct_big_s:14.2f}")
        print(f"{f'scans ({len(scans)}), files/s':28}{http_fps:14.1f}{direct_fps:14.1f}{ratio_scans:12.0%}")
        print(f"{'scans, seconds':28}{http_scans_s:14.2f}{direct_scans_s:14.2f}")
        print(f"{'server RSS growth, MiB':28}{'big':>8} {growth(peak_big):5.1f}{'scans':>8} {growth(peak_scans):5.1f}"
              f"{'max':>7} {growth(peak_all):5.1f}")
        print()
        ok_ratio = ratio_big >= TARGET_RATIO
        ok_mem = growth(peak_all) < TARGET_RSS_MB
        print(f"big-file throughput {ratio_big:.0%} of direct (target >= {TARGET_RATIO:.0%}): "
              f"{'PASS' if ok_ratio else 'FAIL'}")
        print(f"server memory growth {growth(peak_all):.1f} MiB (target < {TARGET_RSS_MB:.0f} MB): "
              f"{'PASS' if ok_mem else 'FAIL'}")
        print(json.dumps({"big_mib": round(big_mib, 1), "http_big_mib_s": round(http_big, 1),
                          "direct_big_mib_s": round(direct_big, 1), "big_ratio": round(ratio_big, 3),
                          "scans": len(scans), "http_scans_per_s": round(http_fps, 1),
                          "direct_scans_per_s": round(direct_fps, 1), "scans_ratio": round(ratio_scans, 3),
                          "rss_baseline_mib": round(baseline / MB, 1),
                          "rss_growth_mib": {"big": round(growth(peak_big), 1), "scans": round(growth(peak_scans), 1),
                                             "max": round(growth(peak_all), 1)},
                          "verdict": {"throughput": ok_ratio, "memory": ok_mem}}))
        return 0
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        stop_server(server, log, timeout=10)
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
