"""OpenGait's training losses, with its names and arguments: ``TripletLoss`` and ``CrossEntropyLoss``.

Each loss is called as ``loss_fn(**training_feat[log_prefix])`` and returns ``(loss, info)``: ``info`` holds
detached tensors for logging. The losses are pure: gathering the inputs across ranks and scaling by the
world size is the engine's loss aggregator's job.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class BaseLoss(nn.Module):
    """A loss term with OpenGait's ``loss_term_weight`` (applied by the aggregator, not here)."""

    def __init__(self, loss_term_weight: float = 1.0):
        super().__init__()
        self.loss_term_weight = loss_term_weight


def _check_batch(name: str, features: Tensor, labels: Tensor, what: str) -> None:
    if features.dim() != 3 or labels.dim() != 1 or labels.shape[0] != features.shape[0]:
        raise ValueError(
            f"{name}: {what} must be [n, c, p] with labels [n], got {tuple(features.shape)} and {tuple(labels.shape)}"
        )


class TripletLoss(BaseLoss):
    """Batch-all triplet loss with margin, per part, averaged over the non-zero terms (OpenGait's).

    Convention:
        For each part, with Euclidean distances ``d`` between the embeddings of the batch, every triplet
        ``(a, p, n)`` with ``label[p] == label[a]`` (the anchor itself included, as in OpenGait) and
        ``label[n] != label[a]`` contributes ``relu(d[a, p] - d[a, n] + margin)``. The part's loss is the sum
        over triplets divided by the number of non-zero terms (0 if there are none). Any label layout works;
        balanced (P, K) batches are not required.

    Args:
        margin: the margin.
        loss_term_weight: weight in the total loss.

    Returns from forward:
        ``(loss [p], info)`` with info ``loss`` [p], ``hard_loss`` [p] (largest term), ``loss_num`` [p]
        (non-zero terms), ``mean_dist`` [p].
    """

    def __init__(self, margin: float, loss_term_weight: float = 1.0):
        super().__init__(loss_term_weight)
        self.margin = margin

    def forward(self, embeddings: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        _check_batch("TripletLoss", embeddings, labels, "embeddings")
        parts = embeddings.float().permute(2, 0, 1)  # [p, n, c]
        self_pairs = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        # cdist's matmul path leaves rounding noise on the diagonal; exact zeros keep its gradient finite
        dist = torch.cdist(parts, parts).masked_fill(self_pairs, 0.0)  # [p, n, n]
        same = labels[:, None] == labels[None, :]
        ap_dist, ap_valid = _gather_masked(dist, same)  # [p, n, K]
        an_dist, an_valid = _gather_masked(dist, ~same)  # [p, n, N]
        valid = ap_valid[:, :, None] & an_valid[:, None, :]  # [n, K, N]
        terms = F.relu(ap_dist[..., :, None] - an_dist[..., None, :] + self.margin) * valid
        terms = terms.flatten(1)
        loss_num = (terms != 0).sum(-1).float()
        loss = terms.sum(-1) / loss_num.clamp(min=1.0)
        info = {
            "loss": loss.detach(),
            "hard_loss": terms.amax(-1).detach(),
            "loss_num": loss_num,
            "mean_dist": dist.mean((1, 2)).detach(),
        }
        return loss, info


def _gather_masked(dist: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Per row of ``mask [n, n]``, the entries of ``dist [p, n, n]`` it selects, left-aligned and padded.

    Returns ``values [p, n, k]`` and ``valid [n, k]`` with ``k`` the largest row count; padding is invalid.
    """
    counts = mask.sum(1)
    width = int(counts.max()) if counts.numel() else 0
    columns = torch.argsort((~mask).to(torch.uint8), dim=1, stable=True)[:, :width]  # selected columns first
    valid = torch.arange(width, device=mask.device) < counts[:, None]
    values = dist.gather(2, columns.expand(dist.shape[0], -1, -1))
    return values, valid


class CrossEntropyLoss(BaseLoss):
    """Cross entropy on scaled logits, per part, with optional label smoothing (OpenGait's).

    ``loss = cross_entropy(scale * logits, labels repeated over the p parts, label_smoothing=eps)``.

    Args:
        scale: logit multiplier (16 in OpenGait).
        label_smooth: apply label smoothing ``eps``.
        eps: label-smoothing amount.
        loss_term_weight: weight in the total loss.
        log_accuracy: add the top-1 accuracy over all parts to ``info``.
    """

    def __init__(self, scale: float = 16, label_smooth: bool = True, eps: float = 0.1,
                 loss_term_weight: float = 1.0, log_accuracy: bool = False):
        super().__init__(loss_term_weight)
        self.scale = scale
        self.label_smooth = label_smooth
        self.eps = eps
        self.log_accuracy = log_accuracy

    def forward(self, logits: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        _check_batch("CrossEntropyLoss", logits, labels, "logits")
        n, _, parts = logits.shape
        logits = logits.float()
        targets = labels[:, None].expand(n, parts)
        smoothing = self.eps if self.label_smooth else 0.0
        loss = F.cross_entropy(logits * self.scale, targets, label_smoothing=smoothing)
        info = {"loss": loss.detach()}
        if self.log_accuracy:
            info["accuracy"] = (logits.argmax(1) == targets).float().mean()
        return loss, info


LOSSES = {"TripletLoss": TripletLoss, "CrossEntropyLoss": CrossEntropyLoss}
