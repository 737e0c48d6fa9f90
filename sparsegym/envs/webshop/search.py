"""Product search as the original's: BM25 over title, description, first bullet and options; top 50.

The original indexes each product's lowercased ``Title + Description + BulletPoints[0] + options`` in
Lucene (Pyserini) with Porter stemming and English stopwords, and ranks with Lucene's BM25 (k1 0.9,
b 0.4, Anserini's defaults). Here the same text goes into ``bm25s`` (``method="lucene"``, k1 0.9,
b 0.4, English stopwords, the Snowball English stemmer when PyStemmer is installed): no Java, and the
index builds in memory in about a second for 100k products. Only documents that match at least one
query term are returned, as Lucene does, best first, ties broken by catalog order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sparsegym._deps import require

TOP_K = 50


class SearchIndex:
    """A BM25 index over product texts; :meth:`search` returns indexes into ``texts``."""

    def __init__(self, texts: Sequence[str], k1: float = 0.9, b: float = 0.4):
        bm25s = require("bm25s", "webshop", "WebShop search")
        from bm25s.tokenization import Tokenizer

        try:
            import Stemmer

            stemmer = Stemmer.Stemmer("english")
        except ImportError:  # stemming is optional: without it plurals match less often
            stemmer = None
        self.stemmed = stemmer is not None
        self._tokenizer = Tokenizer(stemmer=stemmer, stopwords="en")
        ids = self._tokenizer.tokenize(list(texts), return_as="ids", show_progress=False)
        self._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        self._bm25.index(ids, show_progress=False)
        self.size = len(texts)

    def search(self, query: str, k: int = TOP_K) -> list[int]:
        """Indexes of the (at most ``k``) best-matching documents, best first."""
        if not query.strip() or self.size == 0:
            return []
        q = self._tokenizer.tokenize([query.lower()], update_vocab=False, return_as="ids", show_progress=False)
        if not q or not len(q[0]):
            return []
        k = min(k, self.size)
        docs, scores = self._bm25.retrieve(q, k=k, show_progress=False, n_threads=1)
        docs, scores = np.asarray(docs[0]), np.asarray(scores[0])
        keep = scores > 0
        docs, scores = docs[keep], scores[keep]
        order = np.lexsort((docs, -scores))  # score descending, then catalog order
        return [int(d) for d in docs[order]]
