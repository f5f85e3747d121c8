"""Localization: starts at the prior, centre smoothing (Sec. 4.2), gradients, bounded outputs."""
import pytest
import torch
from torch import nn

from opengait_local3d.local3d import Localization, smooth_centres
from opengait_local3d.local3d.localization import LOG_SCALE_LIMIT


def randomise_heads(loc, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for head in (loc.frame_head, loc.sequence_head):
            for p in head.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)


def test_zero_heads_give_the_prior_and_reset_restores_it_after_xavier():
    loc = Localization(6, gamma_priors=[0.5, 0.2, 0.9])
    features = torch.randn(2, 6, 4, 5, 3)
    for module in loc.modules():  # what OpenGait's init_parameters does to every Linear
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.constant_(module.bias, 0.0)
    assert not torch.allclose(loc(features).scale_x, torch.ones(2, 3, 4))
    loc.reset_to_prior()
    out = loc(features)
    for name in ("offset_x", "offset_y", "offset_t"):
        assert torch.equal(getattr(out, name), torch.zeros_like(getattr(out, name))), name
    for name in ("scale_x", "scale_y", "scale_sigma2", "scale_t"):
        assert torch.equal(getattr(out, name), torch.ones_like(getattr(out, name))), name
    expected_gamma = torch.tensor([0.5, 0.2, 0.9]).view(1, 3, 1).expand(2, 3, 4)
    assert torch.allclose(out.gamma, expected_gamma, atol=1e-7)
    assert out.offset_x.shape == (2, 3, 4) and out.scale_t.shape == (2, 3)


def test_smoothing_adds_half_the_two_previous_offsets():
    offsets = torch.tensor([[0.2, -0.4, 0.6, 0.1, 0.3]])
    expected = [0.2, -0.4 + 0.2 / 2, 0.6 + (-0.4 + 0.2) / 2, 0.1 + (0.6 - 0.4) / 2, 0.3 + (0.1 + 0.6) / 2]
    assert smooth_centres(offsets)[0].tolist() == pytest.approx(expected)
    assert smooth_centres(torch.tensor([0.5])).tolist() == [0.5]
    before = offsets.clone()
    smooth_centres(offsets)
    assert torch.equal(offsets, before)  # out of place


def test_localization_applies_smoothing_to_spatial_offsets_only_when_on():
    features = torch.randn(2, 4, 6, 5, 5)
    smooth, raw = Localization(4, [0.5] * 2), Localization(4, [0.5] * 2, smoothing=False)
    raw.load_state_dict(smooth.state_dict())
    randomise_heads(smooth), randomise_heads(raw)
    a, b = smooth.eval()(features), raw.eval()(features)
    assert torch.allclose(a.offset_x, smooth_centres(b.offset_x))
    assert torch.allclose(a.offset_y, smooth_centres(b.offset_y))
    assert torch.equal(a.offset_t, b.offset_t) and torch.equal(a.scale_x, b.scale_x)


def test_gradcheck_float64_through_features_and_heads():
    loc = Localization(2, [0.5, 0.7], width=3).double()
    randomise_heads(loc, seed=1)
    features = torch.randn(2, 2, 3, 3, 2, dtype=torch.float64, requires_grad=True)

    def outputs(x):
        out = loc(x)
        return tuple(getattr(out, name) for name in out.__dataclass_fields__)

    assert torch.autograd.gradcheck(outputs, (features,), fast_mode=True)


def test_extreme_head_outputs_are_bounded_and_finite():
    loc = Localization(4, [0.5] * 3)
    randomise_heads(loc, scale=1e4)
    features = torch.randn(2, 4, 5, 6, 4, requires_grad=True) * 1e3
    out = loc(features)
    limit = torch.exp(torch.tensor(LOG_SCALE_LIMIT))
    for name in ("scale_x", "scale_y", "scale_sigma2", "scale_t"):
        value = getattr(out, name)
        assert torch.isfinite(value).all() and (value <= limit * 1.0001).all() and (value >= 1 / limit / 1.0001).all()
    assert (out.offset_x.abs() <= 2).all() and (out.gamma >= 0).all() and (out.gamma <= 1).all()
    total = sum(getattr(out, name).sum() for name in out.__dataclass_fields__)
    total.backward()
    assert all(torch.isfinite(p.grad).all() for p in loc.parameters() if p.grad is not None)


def test_maps_down_to_one_pixel_work():
    out = Localization(4, [0.5, 0.5]).eval()(torch.randn(2, 4, 3, 1, 1))
    assert out.offset_x.shape == (2, 2, 3) and out.scale_t.shape == (2, 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="gamma_priors"):
        Localization(4, [0.5, 1.0])
    with pytest.raises(ValueError, match="width"):
        Localization(4, [0.5], width=0)
    with pytest.raises(ValueError, match=r"\[n, c, T, H, W\]"):
        Localization(4, [0.5])(torch.randn(2, 4, 5, 5))
