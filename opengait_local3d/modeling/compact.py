"""GLN's compact block: a low-dimensional embedding from the flattened part features."""
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
