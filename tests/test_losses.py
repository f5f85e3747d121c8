"""OpenGait's losses against plain references written out here."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from opengait_local3d.modeling.losses import CrossEntropyLoss, TripletLoss


def reference_triplet(embeddings, labels, margin):
    """Loop over every (anchor, positive, negative); the anchor is its own positive, as in OpenGait."""
    n, _, parts = embeddings.shape
    losses, counts = [], []
    for part in range(parts):
        x = embeddings[:, :, part]
        terms = []
        for a, p, q in itertools.product(range(n), repeat=3):
            if labels[a] == labels[p] and labels[a] != labels[q]:
                d_ap = torch.sqrt(((x[a] - x[p]) ** 2).sum())
                d_an = torch.sqrt(((x[a] - x[q]) ** 2).sum())
                terms.append(max(float(d_ap - d_an) + margin, 0.0))
        nonzero = sum(t != 0 for t in terms)
        losses.append(sum(terms) / nonzero if nonzero else 0.0)
        counts.append(nonzero)
    return torch.tensor(losses, dtype=torch.float64), torch.tensor(counts, dtype=torch.float64)


@pytest.mark.parametrize("labels", [[0, 0, 1, 1, 2, 2], [3, 3, 3, 1, 5, 1, 7]], ids=["balanced", "unbalanced"])
def test_triplet_matches_reference(labels):
    torch.manual_seed(0)
    labels = torch.tensor(labels)
    embeddings = torch.randn(len(labels), 5, 3, dtype=torch.float64) * 0.3
    margin = 0.2
    loss, info = TripletLoss(margin)(embeddings=embeddings, labels=labels)
    expected, counts = reference_triplet(embeddings, labels, margin)
    torch.testing.assert_close(loss.double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(info["loss_num"].double(), counts)
    assert loss.shape == info["hard_loss"].shape == info["mean_dist"].shape == (3,)


def test_triplet_zero_when_every_margin_is_met():
    embeddings = torch.tensor([[0.0], [0.0], [10.0], [10.0]]).view(4, 1, 1)
    loss, info = TripletLoss(0.2)(embeddings=embeddings, labels=torch.tensor([0, 0, 1, 1]))
    assert loss.item() == 0.0 and info["loss_num"].item() == 0.0


def test_triplet_gradient_finite_for_identical_embeddings():
    embeddings = torch.ones(4, 3, 2, requires_grad=True)
    loss, _ = TripletLoss(0.2)(embeddings=embeddings, labels=torch.tensor([0, 0, 1, 1]))
    loss.mean().backward()
    assert torch.isfinite(embeddings.grad).all()


def test_cross_entropy_matches_smoothed_reference():
    torch.manual_seed(1)
    n, k, parts, scale, eps = 5, 4, 2, 16, 0.1
    logits = torch.randn(n, k, parts, dtype=torch.float64) * 0.1
    labels = torch.tensor([0, 3, 1, 1, 2])
    loss, info = CrossEntropyLoss(scale=scale, eps=eps, log_accuracy=True)(logits=logits, labels=labels)
    log_probs = F.log_softmax(scale * logits.float(), dim=1)
    target = torch.full((n, k, parts), eps / k)
    target[torch.arange(n), labels] += 1 - eps
    expected = -(target * log_probs).sum(1).mean()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    accuracy = (logits.argmax(1) == labels[:, None]).float().mean()
    assert info["accuracy"].item() == pytest.approx(accuracy.item())


def test_cross_entropy_without_smoothing_is_torch_nll():
    logits = torch.randn(3, 4, 1)
    labels = torch.tensor([1, 0, 3])
    loss, _ = CrossEntropyLoss(scale=2, label_smooth=False)(logits=logits, labels=labels)
    expected = -F.log_softmax(2 * logits[:, :, 0], 1)[torch.arange(3), labels].mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert not math.isnan(loss.item())


@pytest.mark.parametrize("loss_fn, key", [(TripletLoss(0.2), "embeddings"), (CrossEntropyLoss(), "logits")])
def test_losses_reject_bad_shapes(loss_fn, key):
    with pytest.raises(ValueError, match=key):
        loss_fn(**{key: torch.zeros(4, 3), "labels": torch.zeros(4, dtype=torch.long)})
    with pytest.raises(ValueError, match="labels"):
        loss_fn(**{key: torch.zeros(4, 3, 1), "labels": torch.zeros(3, dtype=torch.long)})
