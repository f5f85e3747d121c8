"""Local3DBlock under mixed precision: localization and sampling stay float32, the rest follows autocast."""
import pytest
import torch
from torch import nn

from opengait_local3d.local3d import FrameWise, Local3DBlock


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
    # Sampling ran in float32; only the localization's input (the low-precision global features) differs.
    torch.testing.assert_close(block.last_volumes, reference_volumes, atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(y.float(), reference, atol=5e-2, rtol=5e-2)
