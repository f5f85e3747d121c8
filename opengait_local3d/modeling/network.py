"""The ``forward`` every gait network shares: OpenGait's input tuple in, OpenGait's output dict out."""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from .outputs import network_outputs
from .sequences import encode_sequences, unpack_inputs

__all__ = ["GaitNetwork"]


class GaitNetwork(nn.Module):
    """Base of the gait networks. ``forward(inputs)`` takes OpenGait's ``(ipts, labs, typs, vies, seqL)``:

    1. silhouettes ``[n, s, h, w]`` (packed sequences of lengths ``seqL`` one at a time) -> :meth:`encode`, each
       clip's part features ``[n, c, p]``;
    2. -> :meth:`heads`: the embeddings ``[n, c', p']`` the triplet loss sees and the test phase keeps, and the
       logits ``[n, k, p']`` of the cross-entropy loss (``None``: the network does not classify);
    3. -> ``training_feat`` / ``visual_summary`` (with :meth:`training_summary`) / ``inference_feat``.
    """

    def encode(self, sils: Tensor) -> Tensor:
        """Part features of fixed-length clips: ``[n, s, h, w] -> [n, c, p]``."""
        raise NotImplementedError(f"{type(self).__name__} must implement encode")

    def heads(self, features: Tensor) -> tuple[Tensor, Tensor | None]:
        """Embeddings ``[n, c', p']`` and logits ``[n, k, p']`` (or ``None``) of part features ``[n, c, p]``."""
        raise NotImplementedError(f"{type(self).__name__} must implement heads")

    def training_summary(self) -> dict[str, Any]:
        """Further ``scalar/...`` entries of ``visual_summary`` (none here)."""
        return {}

    def forward(self, inputs: tuple) -> dict[str, Any]:
        sils, labels, lengths = unpack_inputs(inputs, type(self).__name__)
        embeddings, logits = self.heads(encode_sequences(self.encode, sils, lengths))
        return network_outputs(sils, labels, embeddings, logits=logits, summary=self.training_summary())
