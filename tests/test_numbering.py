"""档号 item numbers: no gaps and no duplicates when many uploads hit one customer file at once."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import make_app
from .helpers import login, make_pdf, new_customer, upload

THREADS = 8
PER_THREAD = 4


@pytest.mark.parametrize("stack", ["postgresql-fs", "sqlite-fs"])
def test_parallel_uploads_number_without_gaps(stack, tmp_path, request, users_factory):
    app = make_app(stack, tmp_path, request)
    users_factory(app)
    first = app.test_client()
    login(first, "archivist")
    customer = new_customer(first)
    pdfs = [make_pdf(marker=f"{i}") for i in range(THREADS * PER_THREAD)]
    start = threading.Barrier(THREADS)

    def worker(n: int) -> list[str]:
        client = app.test_client()  # one session per thread, like separate browsers
        login(client, "archivist" if n % 2 else "archivist2")
        start.wait()
        codes = []
        for i in range(PER_THREAD):
            resp = upload(client, customer["id"], [(pdfs[n * PER_THREAD + i], f"{n}-{i}.pdf")])
            assert resp.status_code == 201, resp.json
            codes.append(resp.json["archival_code"])
        return codes

    with ThreadPoolExecutor(THREADS) as pool:
        codes = [c for chunk in pool.map(worker, range(THREADS)) for c in chunk]
    items = sorted(int(code.rsplit("-", 1)[1]) for code in codes)
    assert items == list(range(1, THREADS * PER_THREAD + 1))
    assert len(set(codes)) == len(codes)
    listing = first.get(f"/api/v1/customers/{customer['id']}/records").json["items"]
    assert sorted(r["item_no"] for r in listing) == items
