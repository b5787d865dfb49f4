"""Full-text search over customer records (客户档案), on Whoosh.

Whoosh distribution: ``whoosh-reloaded`` (pinned in pyproject). Chosen deliberately among:

* ``whoosh`` 2.7.4 (2016, unmaintained): its sources raise SyntaxWarning/DeprecationWarning on
  compile (``is`` with a literal, invalid escapes) -- errors under ``-W error`` on Python 3.12+.
* ``whoosh3`` 3.x: a young single-maintainer fork releasing very often (dozens of minor versions);
  API and on-disk format stability unproven -- too much churn for a derived index we must trust.
* ``whoosh-reloaded`` 2.7.5 (BSD-2-Clause): the 2.7 API and file format unchanged, compiles clean
  except a vendored ``support/pyparsing.py`` that Whoosh never imports; imports and works under
  ``python -W error`` on 3.11. Frozen, which for a pure-Python library with a stable format is a
  feature; if it ever breaks on a newer Python, every Whoosh call lives in this package.

Every ``import whoosh`` stays inside this package. Public API: :class:`SearchIndex`,
:class:`IndexDoc`, :class:`SearchRequest`, :class:`Access`, :class:`SearchResult`, :class:`Hit`,
:class:`IndexDamaged`, :class:`IndexBusy`, :data:`SCHEMA_VERSION` and the analysis functions.
"""
from . import whoosh_patch

whoosh_patch.install()  # before any index is opened: see whoosh_patch

from .analysis import normalise, phone_id_keys, pinyin_keys, query_terms, tokenize
from .documents import CustomerDoc, IndexDoc
from .index import IndexBusy, IndexDamaged, SearchIndex
from .requests import Access, Hit, SearchRequest, SearchResult
from .schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION", "Access", "CustomerDoc", "Hit", "IndexBusy", "IndexDamaged", "IndexDoc", "SearchIndex",
    "SearchRequest", "SearchResult", "phone_id_keys", "normalise", "pinyin_keys", "query_terms",
    "tokenize",
]
