"""Local3DBlock under mixed precision: localization and sampling stay float32, the rest follows autocast."""
import pytest
import torch
from torch import nn

from opengait_local3d.local3d import FrameWise, Local3DBlock, sample_volume

VOLUME_TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("mode,alignment", [("mixture", "zoom"), ("gaussian", "write"), ("trilinear", "zoom")])
def test_block_trains_under_autocast(dtype, mode, alignment):
    torch.manual_seed(0)
    conv = FrameWise(nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.LeakyReLU()))
    block = Local3DBlock(conv, 2, 8, mode=mode, alignment=alignment)
    x = torch.rand(2, 2, 6, 16, 11)
    with block.recording():
        reference = block(x)
        reference_volumes = block.last_volumes
        with torch.autocast("cpu", dtype=dtype):
            y = block(x)
    y.float().square().mean().backward()

    assert y.dtype == dtype and y.shape == reference.shape
    assert block.last_volumes.dtype == torch.float32
    assert all(torch.isfinite(p.grad).all() for p in block.parameters() if p.grad is not None)
    # Sampling runs in float32 on the float32 input. At the priors the localization does not depend on its
    # (low-precision) input, so the volumes equal the float32 ones: measured difference 0, tolerance 1e-5, far
    # below what a sampler running in the low precision would leave (rounding the volumes, up to 0.47, to
    # bfloat16 moves them by 1e-3, to float16 by 1.2e-4).
    torch.testing.assert_close(block.last_volumes, reference_volumes, **VOLUME_TOLERANCE)
    # The output comes from low-precision convs: measured max error 3.5e-3 (bfloat16) and 4.9e-4 (float16) on
    # values up to 0.82; the tolerances are about three and four times that.
    tolerance = 1e-2 if dtype == torch.bfloat16 else 2e-3
    torch.testing.assert_close(y.float(), reference, atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("mode", ["mixture", "gaussian", "trilinear"])
def test_a_sampler_running_in_low_precision_would_fail_the_volume_check(dtype, mode):
    """The volume tolerance above tells float32 sampling from sampling wholly in ``dtype``: the same volumes
    sampled with the clip and the grid in ``dtype`` miss the float32 ones by more than 10x the tolerance."""
    torch.manual_seed(0)
    x = torch.rand(2, 3, 6, 16, 11)
    mu_x = torch.linspace(1.0, 10.0, 11).expand(2, 6, 11) + 0.3 * torch.rand(2, 6, 11)
    mu_y = torch.linspace(1.0, 15.0, 16).expand(2, 6, 16) + 0.3 * torch.rand(2, 6, 16)
    mu_t = torch.linspace(0.5, 5.5, 6).expand(2, 6).contiguous()
    args = (mu_x, mu_y, mu_t, torch.full((2, 6), 0.4), torch.full((2, 6), 0.5))
    exact = sample_volume(x, *args, mode)
    low = sample_volume(x.to(dtype), *(a.to(dtype) for a in args), mode)
    error = (low.float() - exact).abs() - VOLUME_TOLERANCE["rtol"] * exact.abs()
    assert error.max() > 10 * VOLUME_TOLERANCE["atol"]
