"""The dict every network's ``forward`` returns (OpenGait's ``BaseModel`` contract)."""
from __future__ import annotations

from typing import Mapping

from torch import Tensor


def network_outputs(sils: Tensor, labels: Tensor, embeddings: Tensor, *, logits: Tensor | None = None,
                    inference: Tensor | None = None, summary: Mapping[str, object] | None = None) -> dict:
    """Assemble ``training_feat`` / ``visual_summary`` / ``inference_feat``.

    Args:
        sils: the input silhouettes ``[n, s, h, w]``; shown as ``'image/sils'`` ``[n * s, 1, h, w]`` (a view).
        labels: ``[n]``.
        embeddings: what the triplet loss sees, ``[n, c, p]``.
        logits: ``[n, k, p]`` for the cross-entropy loss (``'softmax'`` entry), if the network classifies.
        inference: the test-time embedding ``[n, c', p']`` (default: ``embeddings``).
        summary: further ``'image/...'`` / ``'scalar/...'`` entries.
    """
    n, s, h, w = sils.shape
    training = {"triplet": {"embeddings": embeddings, "labels": labels}}
    if logits is not None:
        training["softmax"] = {"logits": logits, "labels": labels}
    return {
        "training_feat": training,
        "visual_summary": {"image/sils": sils.view(n * s, 1, h, w), **(summary or {})},
        "inference_feat": {"embeddings": embeddings if inference is None else inference},
    }
