"""Localization: starts at the prior, bounded outputs, smoothing inside the squashing (Sec. 4.2), output norm,
coarse pooling, gradients."""
import math

import pytest
import torch
from torch import nn

from opengait_local3d.local3d import Localization, LocalizationBounds, smooth_centres

OUTPUTS = ("offset_x", "offset_y", "scale_x", "scale_y", "scale_sigma2", "gamma", "offset_t", "scale_t")


def randomise_heads(loc, scale=1.0, seed=0):
    """Random weights in both heads (the Linear and, when present, the output BatchNorm's scale and shift)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for head in (loc.frame_head, loc.sequence_head):
            for p in head.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)


def opengait_style_init(module):
    """What OpenGait's init_parameters does: Xavier on convs and Linears, BN scale ~ N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0.0)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.constant_(m.bias, 0.0)


def assert_at_prior(out, gammas, n, T):
    for name in ("offset_x", "offset_y", "offset_t"):
        assert torch.equal(getattr(out, name), torch.zeros_like(getattr(out, name))), name
    for name in ("scale_x", "scale_y", "scale_sigma2", "scale_t"):
        assert torch.equal(getattr(out, name), torch.ones_like(getattr(out, name))), name
    expected_gamma = torch.tensor(gammas).view(1, -1, 1).expand(n, len(gammas), T)
    assert torch.allclose(out.gamma, expected_gamma, atol=1e-7)


@pytest.mark.parametrize("output_norm", [True, False])
def test_every_part_starts_at_its_prior_also_after_a_host_reinitialises_all_layers(output_norm):
    loc = Localization(6, gamma_priors=[0.5, 0.2, 0.9], output_norm=output_norm)
    features = torch.randn(2, 6, 4, 5, 3)
    assert_at_prior(loc(features), [0.5, 0.2, 0.9], 2, 4)  # training mode: batch statistics
    opengait_style_init(loc)
    assert not torch.allclose(loc(features).scale_x, torch.ones(2, 3, 4))
    loc.reset_to_prior()
    out = loc(features)
    assert_at_prior(out, [0.5, 0.2, 0.9], 2, 4)
    assert_at_prior(loc.eval()(features), [0.5, 0.2, 0.9], 2, 4)  # eval mode: running statistics
    assert out.offset_x.shape == (2, 3, 4) and out.scale_t.shape == (2, 3)


def test_smoothing_adds_half_the_two_previous_offsets():
    offsets = torch.tensor([[0.2, -0.4, 0.6, 0.1, 0.3]])
    expected = [0.2, -0.4 + 0.2 / 2, 0.6 + (-0.4 + 0.2) / 2, 0.1 + (0.6 - 0.4) / 2, 0.3 + (0.1 + 0.6) / 2]
    assert smooth_centres(offsets)[0].tolist() == pytest.approx(expected)
    assert smooth_centres(torch.tensor([0.5])).tolist() == [0.5]
    before = offsets.clone()
    smooth_centres(offsets)
    assert torch.equal(offsets, before)  # out of place


def test_smoothing_acts_on_the_raw_offsets_inside_the_tanh():
    features = torch.randn(2, 4, 6, 5, 5)
    smooth, raw = Localization(4, [0.5] * 2), Localization(4, [0.5] * 2, smoothing=False)
    randomise_heads(smooth, scale=0.3)
    raw.load_state_dict(smooth.state_dict())
    a, b = smooth.eval()(features), raw.eval()(features)
    for name in ("offset_x", "offset_y"):
        raw_offsets = torch.atanh(getattr(b, name).double())
        assert torch.allclose(getattr(a, name).double(), torch.tanh(smooth_centres(raw_offsets)), atol=1e-5)
    assert torch.equal(a.offset_t, b.offset_t) and torch.equal(a.scale_x, b.scale_x)


def test_gradcheck_float64_through_features_and_heads():
    loc = Localization(2, [0.5, 0.7], width=3).double().eval()
    randomise_heads(loc, seed=1)
    features = torch.randn(2, 2, 3, 3, 2, dtype=torch.float64, requires_grad=True)

    def outputs(x):
        out = loc(x)
        return tuple(getattr(out, name) for name in OUTPUTS)

    assert torch.autograd.gradcheck(outputs, (features,), fast_mode=True)


@pytest.mark.parametrize("scale_range, temporal_scale_range", [(2.0, 1.5), (4.0, 1.2)])
def test_extreme_head_outputs_stay_within_the_ranges_and_finite(scale_range, temporal_scale_range):
    loc = Localization(4, [0.5] * 3, bounds=LocalizationBounds(scale_range=scale_range,
                                                               temporal_scale_range=temporal_scale_range))
    randomise_heads(loc, scale=1e4)
    features = torch.randn(2, 4, 5, 6, 4, requires_grad=True) * 1e3
    out = loc(features)
    for name, limit in (("scale_x", scale_range), ("scale_y", scale_range), ("scale_sigma2", scale_range),
                        ("scale_t", temporal_scale_range)):
        value = getattr(out, name)
        assert torch.isfinite(value).all() and (value <= limit * 1.0001).all() and (value >= 1 / limit / 1.0001).all()
    for name in ("offset_x", "offset_y", "offset_t"):
        assert (getattr(out, name).abs() <= 1).all(), name  # smoothed or not, the offsets stay in [-1, 1]
    assert (out.gamma >= 0).all() and (out.gamma <= 1).all()
    sum(getattr(out, name).sum() for name in OUTPUTS).backward()
    assert all(torch.isfinite(p.grad).all() for p in loc.parameters() if p.grad is not None)


def largest_raw_step(output_norm: bool, lr: float = 1e-3) -> float:
    """The largest change of a raw spatial output after one Adam step on non-negative features."""
    torch.manual_seed(0)
    loc = Localization(8, [0.5] * 6, output_norm=output_norm)
    features = torch.rand(16, 8, 10, 16, 11) * 3
    optimizer = torch.optim.Adam(loc.parameters(), lr=lr)

    def raw_offsets():
        return torch.atanh(loc(features).offset_x.clamp(-0.999999, 0.999999))

    before = raw_offsets().detach()
    (raw_offsets() * torch.randn(before.shape)).sum().backward()
    optimizer.step()
    return float((raw_offsets().detach() - before).abs().max())


def test_output_norm_keeps_the_first_steps_on_the_scale_of_the_learning_rate():
    """Without the norm a zero head reading non-negative features moves by lr x (sum of features + 1)."""
    lr = 1e-3
    normed, plain = largest_raw_step(True, lr), largest_raw_step(False, lr)
    # Behind the norm, an output moves by lr x (|normalised value| + 1), and the smoothing adds up to two
    # frames' worth of half steps: at most lr x (4 + 1) x 2 with values within 4 standard deviations.
    assert normed <= 10 * lr
    assert plain > 30 * normed  # measured: 0.30 vs 0.006


def test_coarse_pooling_sees_where_the_content_is():
    """Global max pooling is blind to a shift of the content; a 2x2 grid is not."""
    x = torch.zeros(1, 3, 2, 16, 48)
    x[..., 6:10, 8:12] = 1.0
    # A shift along the width by a multiple of the two 2x2 poolings, with the convs' responses kept off the side
    # borders: every layer before the last pooling is exactly shift-equivariant (the background stays 0).
    shifted = torch.roll(x, shifts=24, dims=4)
    for pooling, changes in ((1, False), (2, True)):
        torch.manual_seed(0)
        loc = Localization(3, [0.5], pooling=pooling).eval()
        randomise_heads(loc)
        a, b = loc(x), loc(shifted)
        assert (not torch.allclose(a.offset_x, b.offset_x)) == changes, pooling


def test_large_maps_are_first_max_pooled_to_at_most_16_rows():
    torch.manual_seed(0)
    loc = Localization(3, [0.5, 0.5]).eval()
    randomise_heads(loc)
    x = torch.rand(2, 3, 4, 64, 44)
    pooled = torch.nn.functional.max_pool2d(x.flatten(1, 2), 4, ceil_mode=True).view(2, 3, 4, 16, 11)
    a, b = loc(x), loc(pooled)
    for name in OUTPUTS:
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_maps_down_to_one_pixel_work():
    out = Localization(4, [0.5, 0.5], pooling=3).eval()(torch.randn(2, 4, 3, 1, 1))
    assert out.offset_x.shape == (2, 2, 3) and out.scale_t.shape == (2, 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="gamma_priors"):
        Localization(4, [0.5, 1.0])
    with pytest.raises(ValueError, match="width"):
        Localization(4, [0.5], width=0)
    with pytest.raises(ValueError, match="pooling"):
        Localization(4, [0.5], pooling=0)
    with pytest.raises(ValueError, match="scale_range must be a number > 1, got 1.0"):
        LocalizationBounds(scale_range=1.0)
    with pytest.raises(ValueError, match="temporal_scale_range"):
        LocalizationBounds(temporal_scale_range=math.e ** -1)
    for name in ("offset_range", "temporal_offset_range", "min_sigma"):
        with pytest.raises(ValueError, match=f"{name} must be a number >= 0, got -0.1"):
            LocalizationBounds(**{name: -0.1})
    with pytest.raises(ValueError, match="min_sigma must be a number >= 0, got True"):
        LocalizationBounds(min_sigma=True)
    assert LocalizationBounds(offset_range=0.3).temporal_offset == 0.3
    assert LocalizationBounds(offset_range=0.3, temporal_offset_range=0.1).temporal_offset == 0.1
    with pytest.raises(ValueError, match=r"\[n, c, T, H, W\]"):
        Localization(4, [0.5])(torch.randn(2, 4, 5, 5))
