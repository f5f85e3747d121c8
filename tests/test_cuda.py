"""On a GPU: the 3D local block and the networks with local paths compute on CUDA what they compute on CPU, in
float32 and under float16 autocast (the engine's ``enable_float16``, which the paper configs turn on).

The block's training path runs autograd functions with hand-written backwards and ``out=`` matmuls into strided
views (``local3d/custom_backward.py``), and chooses some GEMM shapes by device: these tests run that path on CUDA
against the same modules in float64 on CPU, where the CPU tests pin it to the paper's equations. Marked
``needs_cuda``: skipped where torch sees no GPU, each with the CPU test it mirrors as its twin.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from opengait_local3d.engine.config.loading import read_yaml
from opengait_local3d.local3d import FrameWise, Local3DBlock
from opengait_local3d.local3d.sampling import MODES
from opengait_local3d.modeling import build_network

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "synth"


@pytest.fixture
def full_float32():
    """cuDNN's convolutions in full float32 (torch lets them use TF32, a 10-bit mantissa, by default)."""
    previous = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = previous


def assert_close_to_reference(got: torch.Tensor, reference: torch.Tensor, what: str, tolerance: float,
                              least_scale: float = 0.0) -> None:
    """``got`` (on CUDA) within ``tolerance`` times ``reference``'s largest magnitude, or ``least_scale`` if larger
    (for tensors that are zero but for rounding, such as the gradient of a bias that a BatchNorm follows)."""
    error = (got.detach().cpu().double() - reference.detach().cpu().double()).abs().max()
    scale = max(float(reference.detach().abs().max()), least_scale)
    assert error <= tolerance * scale, f"{what}: max error {float(error):.3g} against the scale {scale:.3g}"


def assert_gradients_close(grads: list[torch.Tensor], expected: list[torch.Tensor], names: list[str],
                           tolerance: float) -> None:
    """Each gradient as :func:`assert_close_to_reference`, at least on the scale of a hundredth of the largest."""
    least_scale = 1e-2 * max(float(g.abs().max()) for g in expected)
    for name, grad, expected_grad in zip(names, grads, expected):
        assert_close_to_reference(grad, expected_grad, f"gradient of {name}", tolerance, least_scale)


def move_off_the_priors(block: Local3DBlock) -> None:
    """Parts off their priors, per frame, and local weights in the fusion (as the CPU fast-path test sets them): at
    initialisation the localization outputs the priors and the identity fusion ignores the local paths, which would
    leave most of the local paths' gradients at zero."""
    with torch.no_grad():
        for head in (block.localization.frame_head, block.localization.sequence_head):
            head[-1].weight.normal_(std=0.5)
        block.fusion.conv.weight[:, block.out_channels:].normal_(std=0.1)


def training_block(mode: str, alignment: str, off_priors: bool = True) -> Local3DBlock:
    """A block in training mode, in float64, with a random fusion and (``off_priors``) parts off their priors."""
    torch.manual_seed(0)
    conv = FrameWise(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.LeakyReLU()))
    options = {"write_resolution": (8, 6)} if alignment == "write" else {}
    block = Local3DBlock(conv, 3, 8, alignment=alignment, mode=mode, fusion_init="default", **options).double()
    if off_priors:
        move_off_the_priors(block)
    return block.train()


def outputs_and_gradients(module: nn.Module, inputs: torch.Tensor, cotangent: torch.Tensor,
                          forward=None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``module``'s output and the gradients of ``<output, cotangent>`` for the input and every parameter."""
    inputs = inputs.detach().requires_grad_()
    output = (forward or module)(inputs)
    parameters = [p for p in module.parameters() if p.requires_grad]
    grads = torch.autograd.grad(output, [inputs, *parameters], cotangent.to(output), allow_unused=True)
    return output, [torch.zeros_like(t) if g is None else g for g, t in zip(grads, [inputs, *parameters])]


@pytest.mark.needs_cuda(twin="test_local3d_block.py::test_write_fast_path_equals_writing_every_part_then_fusing")
@pytest.mark.parametrize("alignment", ["write", "zoom"])
@pytest.mark.parametrize("mode", MODES)
def test_the_block_on_cuda_computes_its_cpu_values_and_gradients(mode, alignment, full_float32):
    reference = training_block(mode, alignment)
    on_cuda = copy.deepcopy(reference).float().cuda()
    x = torch.randn(2, 3, 7, 16, 11, dtype=torch.float64)
    cotangent = torch.randn(2, 8, 7, 16, 11, dtype=torch.float64)

    expected, expected_grads = outputs_and_gradients(reference, x, cotangent)
    got, grads = outputs_and_gradients(on_cuda, x.float().cuda(), cotangent.float().cuda())

    # float32 against float64: measured errors up to about 1e-6 of each tensor's largest value; 1e-4 leaves room for
    # other GPUs' summation orders and is far below a wrong term (a part, a filterbank, a gradient path).
    assert got.is_cuda
    assert_close_to_reference(got, expected, "output", 1e-4)
    names = ["input", *(name for name, p in reference.named_parameters() if p.requires_grad)]
    assert_gradients_close(grads, expected_grads, names, 1e-4)


@pytest.mark.needs_cuda(twin="test_local3d_autocast.py::test_block_trains_under_autocast")
@pytest.mark.parametrize("alignment", ["write", "zoom"])
def test_the_block_trains_on_cuda_under_float16_autocast(alignment, full_float32):
    reference = training_block("mixture", alignment, off_priors=False).float().cuda()
    x = torch.rand(2, 3, 7, 16, 11, device="cuda")
    with reference.recording():
        expected = reference(x)
        expected_volumes = reference.last_volumes
        with torch.autocast("cuda", dtype=torch.float16):
            y = reference(x)
    y.float().square().mean().backward()

    assert y.dtype == torch.float16
    assert reference.last_volumes.dtype == torch.float32
    assert all(torch.isfinite(p.grad).all() for p in reference.parameters() if p.grad is not None)
    # At the priors the localization does not depend on its (float16) input, so float32 sampling gives the float32
    # volumes (the CPU twin's bound; sampling in float16 would miss it by over 10x); the output comes from float16
    # convs and GEMMs: the CPU twin measured 6e-4 of the largest value.
    assert_close_to_reference(reference.last_volumes, expected_volumes, "volumes", 1e-5)
    assert_close_to_reference(y.float(), expected, "output", 5e-3)


def synth_network(config: str) -> nn.Module:
    """The network of a synth config, initialised as the engine does, then its local blocks moved off their priors
    (:func:`move_off_the_priors`), without dropout (so both devices agree)."""
    torch.manual_seed(0)
    net = build_network(read_yaml(CONFIGS / config)["model_cfg"])
    net.init_parameters()
    for module in net.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if isinstance(module, Local3DBlock):
            move_off_the_priors(module)
    return net.train()


def training_features(net: nn.Module, sils: torch.Tensor) -> torch.Tensor:
    """Every tensor of the network's ``training_feat`` (embeddings, logits), flattened and concatenated."""
    labels = torch.arange(sils.shape[0], device=sils.device) // 2
    feats = net(([sils], labels, None, None, None))["training_feat"]
    tensors = [value for entry in feats.values() for value in entry.values() if isinstance(value, torch.Tensor)
               and value.is_floating_point()]
    return torch.cat([t.flatten() for t in tensors])


@pytest.mark.needs_cuda(twin="test_modeling_local3dcnn_values.py::test_training_mode_uses_batch_statistics")
@pytest.mark.parametrize("config", ["3dlocal_synth.yaml", "gaitgl_local3d_synth.yaml"])
def test_networks_with_local_paths_train_on_cuda_as_on_cpu(config, full_float32):
    reference = synth_network(config).double()
    on_cuda = copy.deepcopy(reference).float().cuda()
    generator = torch.Generator().manual_seed(0)
    sils = (torch.rand(4, 10, 32, 24, generator=generator) > 0.5).double()
    with torch.no_grad():
        cotangent = torch.randn_like(training_features(reference, sils))

    expected, expected_grads = outputs_and_gradients(reference, sils, cotangent,
                                                     lambda s: training_features(reference, s))
    got, grads = outputs_and_gradients(on_cuda, sils.float().cuda(), cotangent.float().cuda(),
                                       lambda s: training_features(on_cuda, s))

    assert_close_to_reference(got, expected, "training features", 1e-4)
    names = [name for name, p in reference.named_parameters() if p.requires_grad]
    assert_gradients_close(grads[1:], expected_grads[1:], names, 1e-3)

    scaler = torch.amp.GradScaler("cuda")
    on_cuda.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.float16):
        features = training_features(on_cuda, sils.float().cuda())
    scaler.scale(features.float().square().mean()).backward()
    assert torch.isfinite(features).all()
    assert all(torch.isfinite(p.grad).all() for p in on_cuda.parameters() if p.grad is not None)
