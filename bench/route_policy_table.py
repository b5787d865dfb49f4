"""Print every route of the app with the policy action that guards it (route → policy action).

    .venv/bin/python bench/route_policy_table.py            # Markdown table
    .venv/bin/python bench/route_policy_table.py --tsv      # tab-separated

The decisions come from ``tests/test_route_walk.py`` (``ROUTES``), the table the route walk checks
every rule against: a route missing there fails the test suite, so this listing is complete.
Run from the repository root.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tsv", action="store_true", help="tab-separated instead of Markdown")
    args = parser.parse_args()

    from archive_app import create_app
    from tests.test_route_walk import ROUTES

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SECRET_KEY": "listing", "AUDIT_KEY": "listing", "DATA_DIR": tmp, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/a.db",
                          "STORAGE_BACKEND": "fs", "STORAGE_DIR": f"{tmp}/blobs"})
        rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
        rows = [(r.rule, ",".join(sorted((r.methods or set()) - {"HEAD", "OPTIONS"})), r.endpoint,
                 ROUTES[r.endpoint].action if r.endpoint in ROUTES else "NO DECISION") for r in rules]
    if args.tsv:
        for row in rows:
            print("\t".join(row))
        return
    print("| route | methods | endpoint | policy action |")
    print("|---|---|---|---|")
    for rule, methods, endpoint, action in rows:
        print(f"| `{rule}` | {methods} | {endpoint} | {action} |")


if __name__ == "__main__":
    main()
