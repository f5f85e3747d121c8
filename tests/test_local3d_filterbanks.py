"""Grids and filterbanks (Eqs. 4-9) against the equations written out here and hand-computed cases."""
import math

import pytest
import torch
import torch.nn.functional as F

from opengait_local3d.local3d import gaussian_filterbank, grid_centres, linear_filterbank


def test_grid_centres_follow_eq4():
    # mu^i = c W + dx/2 W + (i - M/2 - 0.5) stride, i = 1..M; W = 11, M = 3, c = 0.3, dx = 0.2, stride = 2.
    expected = [0.3 * 11 + 0.1 * 11 + (i - 1.5 - 0.5) * 2.0 for i in (1, 2, 3)]
    got = grid_centres(torch.tensor(0.3), torch.tensor(0.2), torch.tensor(2.0), in_size=11, out_size=3)
    assert got.tolist() == pytest.approx(expected)


def test_grid_centres_full_map_at_unit_stride_are_pixel_centres():
    got = grid_centres(0.5, 0.0, 1.0, in_size=6, out_size=6)
    assert got.tolist() == pytest.approx([0.5, 1.5, 2.5, 3.5, 4.5, 5.5])


def test_grid_centres_broadcast_and_keep_float64():
    offset = torch.zeros(2, 3, 4, dtype=torch.float64)
    stride = torch.full((2, 3, 4), 0.4, dtype=torch.float64)
    got = grid_centres(torch.tensor([[0.5], [0.25], [1.0]], dtype=torch.float64), offset, stride, 10, 5)
    assert got.shape == (2, 3, 4, 5) and got.dtype == torch.float64
    assert got[1, 2, 0].tolist() == pytest.approx([10 + 0.4 * k for k in (-2, -1, 0, 1, 2)], abs=1e-12)


def test_gaussian_filterbank_is_eq7_with_pixel_centres_and_unit_rows():
    mu = torch.tensor([[0.3, 2.0, 3.7]], dtype=torch.float64)
    sigma2 = torch.tensor([[0.8]], dtype=torch.float64)
    got = gaussian_filterbank(mu, sigma2, size=5)
    for i, m in enumerate(mu[0].tolist()):
        row = [math.exp(-((m - (p + 0.5)) ** 2) / (2 * 0.8)) for p in range(5)]
        total = sum(row)
        assert got[0, i].tolist() == pytest.approx([v / total for v in row], rel=1e-12)
    assert torch.allclose(got.sum(-1), torch.ones(1, 3, dtype=torch.float64))


def test_gaussian_filterbank_rows_off_the_map_stay_zero_not_renormalised():
    got = gaussian_filterbank(torch.tensor([-50.0, 1.0]), 0.25, size=4)
    assert torch.equal(got[0], torch.zeros(4))
    assert torch.isfinite(got).all() and got[1].sum().item() == pytest.approx(1.0)


def test_gaussian_filterbank_has_no_subnormal_weights():
    """exp(-d^2 / 2 sigma^2) is subnormal in float32 for d ~ 13 sigma; such weights are zeroed."""
    got = gaussian_filterbank(torch.tensor([0.5]), 0.0225, size=8)  # sigma 0.15 px
    tiny = torch.finfo(torch.float32).tiny
    assert not ((got != 0) & (got.abs() < tiny)).any()
    assert got[0, 0] == 1.0 and (got[0, 2:] == 0).all()
    assert torch.exp(torch.tensor(-(2.0**2) / (2 * 0.0225))) < tiny  # the plain formula would be subnormal


def test_gaussian_filterbank_per_row_variance_broadcasts():
    mu = torch.tensor([[1.5, 1.5], [1.5, 1.5]])
    got = gaussian_filterbank(mu, torch.tensor([[0.1], [10.0]]), size=3)
    # The centre pixel's weight, its two neighbours at distance 1: 1 / (1 + 2 exp(-1 / (2 sigma2))).
    assert got[0, 0, 1].item() == pytest.approx(1 / (1 + 2 * math.exp(-1 / 0.2)))
    assert got[1, 1, 1].item() == pytest.approx(1 / (1 + 2 * math.exp(-1 / 20.0)))


@pytest.mark.parametrize(
    "mu, expected",
    [
        (1.25, [0.25, 0.75, 0.0]),  # u = 0.75: 1 - 0.75 on pixel 0, 0.75 on pixel 1
        (0.5, [1.0, 0.0, 0.0]),  # a pixel centre reads that pixel only (Eq. 9's printed form gives 0 here)
        (0.25, [0.75, 0.0, 0.0]),  # u = -0.25: the tap on pixel -1 is off the map (zeros padding)
        (3.0, [0.0, 0.0, 0.5]),  # u = 2.5: half on pixel 2, half off the map
        (-7.0, [0.0, 0.0, 0.0]),
    ],
)
def test_linear_filterbank_hand_computed(mu, expected):
    assert linear_filterbank(torch.tensor([mu]), size=3)[0].tolist() == pytest.approx(expected)


def test_linear_filterbank_equals_grid_sample_1d():
    torch.manual_seed(0)
    size = 7
    mu = torch.rand(2, 9) * 9 - 1  # also off the map
    signal = torch.randn(2, 1, 1, size)
    grid = torch.stack([mu * 2 / size - 1, torch.zeros_like(mu)], -1).view(2, 1, 9, 2)
    expected = F.grid_sample(signal, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    got = linear_filterbank(mu, size) @ signal.view(2, size, 1)
    assert torch.allclose(got.view(2, 9), expected.view(2, 9), atol=1e-6)


def test_filterbanks_are_differentiable_in_float64():
    mu = (torch.rand(2, 3, dtype=torch.float64) * 5).requires_grad_()
    sigma2 = (torch.rand(2, 1, dtype=torch.float64) + 0.3).requires_grad_()
    assert torch.autograd.gradcheck(lambda m, s: gaussian_filterbank(m, s, 5), (mu, sigma2))
    assert torch.autograd.gradcheck(lambda m: linear_filterbank(m, 5), (mu,))


def plain_gaussian_filterbank(mu, sigma2, size, eps=1e-8):
    """Eqs. 7-8 as written, with the negligible weights zeroed: autograd differentiates every step."""
    centres = torch.arange(size, dtype=mu.dtype) + 0.5
    weights = torch.exp(-((mu.unsqueeze(-1) - centres) ** 2) / (2 * sigma2.clamp_min(1e-4).unsqueeze(-1)))
    weights = torch.where(weights < torch.finfo(mu.dtype).eps ** 2, torch.zeros_like(weights), weights)
    return weights / torch.clamp(weights.sum(-1, keepdim=True), min=eps)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("sigma2_shape", [(4, 3, 1), (3, 1), ()])
def test_gaussian_filterbank_gradient_is_that_of_the_plain_formula(dtype, sigma2_shape):
    """The analytic backward against autograd through Eqs. 7-8 written plainly: rows on the map, rows off it (whose
    sum is below eps), far tails (zeroed weights), a variance below the floor, and a variance broadcast over rows."""
    g = torch.Generator().manual_seed(3)
    mu = torch.rand(4, 3, 5, generator=g, dtype=torch.float64) * 14 - 2
    mu[0, 0, 0] = -60.0
    sigma2 = torch.rand(sigma2_shape, generator=g, dtype=torch.float64) * 3 + 0.05
    if sigma2.dim():
        sigma2[0] = 1e-5
    grad_out = torch.randn(4, 3, 5, 11, generator=g, dtype=torch.float64)
    results = []
    for bank in (gaussian_filterbank, plain_gaussian_filterbank):
        m, s = mu.to(dtype).requires_grad_(), sigma2.to(dtype).requires_grad_()
        out = bank(m, s, 11)
        results.append((out.detach(), *torch.autograd.grad(out, (m, s), grad_out.to(dtype))))
    # float32: the floored row (sigma 0.01 px) scales its gradients by 1 / sigma^2 = 1e4, and a weight at the
    # negligible-weight threshold may be kept by one form and zeroed by the other.
    tolerance = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-12)
    for got, expected in zip(*results):
        assert torch.allclose(got, expected, **tolerance)
    assert results[0][1].abs().sum() > 0 and results[0][2].abs().sum() > 0


@pytest.mark.parametrize("size", [0, -1, 2.5])
def test_bad_size_names_the_argument(size):
    with pytest.raises(ValueError, match="size"):
        gaussian_filterbank(torch.zeros(2), 1.0, size)
    with pytest.raises(ValueError, match="size"):
        linear_filterbank(torch.zeros(2), size)
    with pytest.raises(ValueError, match="out_size"):
        grid_centres(0.5, 0.0, 1.0, 4, size)
