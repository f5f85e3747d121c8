"""GLN's compact block (a low-dimensional embedding from the flattened part features) and its classifier."""
from __future__ import annotations

from torch import Tensor, nn

from ..utils.checks import require


class CompactBlock(nn.Module):
    """BN over the flattened part features, dropout, ReLU, bias-free FC, BN: ``[n, c, p] -> [n, out_features]``.

    As in GLN, both BatchNorms keep their bias fixed at zero (``requires_grad = False``).

    Args:
        in_features: ``c * p``.
        out_features: the compact embedding size (256 in GLN and the paper).
        dropout: dropout probability (GLN uses 0.9).
    """

    def __init__(self, in_features: int, out_features: int = 256, dropout: float = 0.9):
        super().__init__()
        require(0.0 <= dropout < 1.0, f"CompactBlock: dropout must be in [0, 1), got {dropout}")
        self.encoder_bn = nn.BatchNorm1d(in_features)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, out_features, bias=False)
        self.reduce_bn = nn.BatchNorm1d(out_features)
        for bn in (self.encoder_bn, self.reduce_bn):
            bn.bias.requires_grad_(False)

    def forward(self, parts: Tensor) -> Tensor:
        flat = self.encoder_bn(parts.flatten(1))
        return self.reduce_bn(self.fc(self.dropout(flat).relu_()))


class Classifier(nn.Linear):
    """Bias-free linear classifier of the compact embedding: ``[n, in_features] -> [n, classes]``.

    Args:
        in_features: the compact embedding size.
        classes: training identities.
        init_std: if given, :meth:`init_parameters` draws the weight from N(0, init_std^2) (the authors' Linear
            init is N(0, 0.001^2)) instead of keeping the host's Xavier init. With Xavier weights and OpenGait's
            scale 16, cross-entropy starts near 40 (ln k for a uniform guess) and its gradient through the compact
            block is thousands of times the triplet loss's on the same features.
    """

    def __init__(self, in_features: int, classes: int, init_std: float | None = None):
        super().__init__(in_features, classes, bias=False)
        require(init_std is None or init_std > 0, f"classifier_std must be > 0 or null, got {init_std!r}")
        self.init_std = init_std

    def init_parameters(self) -> None:
        """The weight from N(0, init_std^2) when ``init_std`` is set (after the host's generic pass)."""
        if self.init_std is not None:
            nn.init.normal_(self.weight, 0.0, self.init_std)
