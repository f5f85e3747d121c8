"""Local3DBlock: shapes, priors, alignments, fusion, gradient isolation, batch independence, errors."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from opengait_local3d.local3d import (
    ALIGNMENTS,
    DEFAULT_PRIORS,
    MODES,
    PART_NAMES,
    FrameWise,
    Local3DBlock,
    LocalizationBounds,
    sample_volume,
)
from opengait_local3d.local3d.fusion import Fusion


def conv_block(c_in, c_out, stride=1):
    return FrameWise(nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.LeakyReLU()))


def make_block(c_in=3, c_out=8, **options):
    torch.manual_seed(0)
    return Local3DBlock(conv_block(c_in, c_out), c_in, c_out, **options)


def test_framewise_applies_the_2d_module_to_every_frame():
    conv = nn.Conv2d(2, 5, 3, padding=1)
    x = torch.randn(3, 2, 4, 6, 5)
    got = FrameWise(conv)(x)
    expected = torch.stack([conv(x[:, :, t]) for t in range(4)], dim=2)
    assert got.shape == (3, 5, 4, 6, 5) and torch.allclose(got, expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[n, c, s, h, w\]"):
        FrameWise(conv)(x[0])


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("feature_extraction", [True, False])
def test_output_has_the_global_shape_and_gradients_flow(mode, alignment, feature_extraction):
    block = make_block(mode=mode, alignment=alignment, feature_extraction=feature_extraction, fusion_init="default")
    x = torch.randn(2, 3, 5, 16, 11, requires_grad=True)
    with block.recording():
        out = block(x)
    assert out.shape == (2, 8, 5, 16, 11) and (out >= 0).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert block.localization.frame_head[-1].weight.grad.abs().sum() > 0  # it learns through the sampler
    assert set(block.last_parameters) == {
        "centre", "stride", "extent", "sigma", "gamma", "temporal_centre", "temporal_stride", "temporal_extent"
    }
    assert block.last_volumes.shape[:2] == (6, 3) and not block.last_volumes.requires_grad
    assert block.fusion.conv.in_channels == 8 + 6 * (4 if feature_extraction else 3)


def test_every_part_starts_at_its_prior_at_block3_size():
    """Block3 of the CASIA-B model: 16 x 11 maps; zoom: M = 11 columns cover the part's width."""
    block = make_block()
    for module in block.modules():  # a host's Xavier pass, then the block's own reset
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
    block.reset_local_paths()
    T, H, W = 10, 16, 11
    block(torch.randn(2, 3, T, H, W))
    got = block.last_parameters
    # round(M * part height / part width) in pixels: head 11 * 2 / 4 = 5.5 -> 6, torso 11 * 8 / 10 -> 9, ...
    used_rows = {"head": 6, "torso": 9, "left_arm": 11, "right_arm": 11, "left_leg": 13, "right_leg": 13}
    for p, (name, prior) in enumerate(DEFAULT_PRIORS.items()):  # the priors' table (test_local3d_parts)
        cx, cy, width = prior.cx, prior.cy, prior.width
        stride = width * W / W  # part width in pixels over the M = W columns
        centre, strides, extent = got["centre"][:, p], got["stride"][:, p], got["extent"][:, p]
        assert torch.allclose(centre, torch.tensor([cx * W, cy * H]).expand(2, T, 2)), name
        assert torch.allclose(strides, torch.tensor([stride, stride]).expand(2, T, 2)), name
        assert torch.allclose(extent, torch.tensor([W * stride, used_rows[name] * stride]).expand(2, T, 2)), name
        sigma = (0.5**2 + (0.5 * stride) ** 2) ** 0.5  # the 0.5 px floor added to half the stride, in variance
        assert torch.allclose(got["sigma"][:, p], torch.full((2, T), sigma)), name
        assert torch.allclose(got["gamma"][:, p], torch.full((2, T), 0.5)), name
        assert torch.allclose(got["temporal_centre"][:, p], torch.full((2,), 0.5 * T)), name
        assert torch.allclose(got["temporal_stride"][:, p], torch.full((2,), 0.4 * T / T)), name
        assert torch.allclose(got["temporal_extent"][:, p], torch.full((2,), 0.4 * T)), name


def test_zoom_samples_the_central_rows_and_zeros_the_rest_extra_row_below():
    block = make_block(parts=["head", "torso"])
    with block.recording():
        block(torch.rand(1, 3, 4, 16, 11) + 1.0)  # positive input: every used row is non-zero
    rows_used = block.last_volumes.abs().sum(dim=(1, 2, 4)) > 0  # [P, N]
    # head: round(11 * 2 / 4) = 6 rows -> 5 zero rows above, 5 below; torso: 9 rows -> 3 above, 4 below.
    assert rows_used[0].nonzero().flatten().tolist() == list(range(5, 11))
    assert rows_used[1].nonzero().flatten().tolist() == list(range(3, 12))


def test_last_volumes_are_the_sampled_volumes_of_sample_zero():
    block = make_block(parts=["left_leg"], feature_extraction=False)
    x = torch.randn(2, 3, 6, 16, 11)
    with block.recording():
        block(x)
    p = block.last_parameters
    # Rebuild the left leg's mixture volume at its prior from Eqs. 4-6 written out here.
    stride, rows = 5 / 11 * 11 / 11, 13
    cols = 0.3 * 11 + (torch.arange(11) - 11 / 2 + 0.5) * stride
    used = 0.8 * 16 + (torch.arange(rows) - rows / 2 + 0.5) * stride
    mu_y = torch.cat([used[:1] - stride * torch.arange(1, 2).flip(0), used, used[-1:] + stride * torch.arange(1, 3)])
    frames = 0.5 * 6 + (torch.arange(6) - 3 + 0.5) * 0.4
    mask_y = torch.tensor([0.0] + [1.0] * rows + [0.0] * 2)
    expected = sample_volume(
        x[:1], cols.expand(1, 6, 11), mu_y.expand(1, 6, 16), frames.view(1, 6), torch.full((1, 6), 0.5**2 + (0.5 * stride) ** 2),
        0.5, "mixture", mask_y=mask_y,
    )
    assert torch.allclose(block.last_volumes[0], expected[0], atol=1e-5)
    assert torch.allclose(p["centre"][0, 0, 0], torch.tensor([3.3, 12.8]))


def test_volumes_are_copied_only_while_recording():
    block = make_block()
    x = torch.randn(2, 3, 4, 16, 11)
    block(x)
    assert block.last_volumes is None and block.last_parameters["centre"].shape == (2, 6, 4, 2)
    with block.recording():
        block(x)
        assert block.last_volumes is not None and block.record
    assert not block.record
    with torch.no_grad():
        block(x)
    assert block.last_volumes is None  # an inference forward after a recorded one copies nothing


def test_fusion_equals_concatenation_then_1x1x1_conv_and_relu():
    block = make_block()
    g = torch.randn(2, 8, 3, 4, 5)
    local = [torch.randn(2, 4, 3, 4, 5) for _ in range(6)]
    expected = F.relu(block.fusion.conv(torch.cat([g, *local], dim=1)))
    assert torch.allclose(block.fusion(g, local), expected, atol=1e-5)
    weights = block.fusion_weights()
    assert list(weights) == ["global", *PART_NAMES]
    assert weights["global"] == pytest.approx(block.fusion.conv.weight[:, :8].abs().mean().item())
    assert weights["torso"] == pytest.approx(block.fusion.conv.weight[:, 12:16].abs().mean().item())


def test_localization_sends_no_gradient_into_the_global_block():
    block = make_block()
    captured = {}
    block.localization.register_forward_hook(lambda module, inputs, output: captured.update(i=inputs[0], o=output))
    block(torch.randn(2, 3, 4, 16, 11))
    assert not captured["i"].requires_grad
    loc_loss = sum(getattr(captured["o"], name).sum() for name in captured["o"].__dataclass_fields__)
    global_params = list(block.global_block.parameters())
    global_grads = torch.autograd.grad(loc_loss, global_params, allow_unused=True, retain_graph=True)
    assert all(g is None for g in global_grads)
    own_grads = torch.autograd.grad(loc_loss, list(block.localization.parameters()), allow_unused=True)
    assert any(g is not None for g in own_grads)


@pytest.mark.parametrize("alignment", ALIGNMENTS)
def test_each_sample_depends_only_on_itself_in_eval_mode(alignment):
    block = make_block(alignment=alignment).eval()
    for head in (block.localization.frame_head, block.localization.sequence_head):  # parts move per sample
        nn.init.normal_(head[0].weight, std=0.5)
        nn.init.normal_(head[-1].weight, std=0.5)
    x = torch.randn(3, 3, 5, 16, 11)
    before = block(x)[0]
    x[1:] = torch.randn(2, 3, 5, 16, 11) * 4
    assert torch.allclose(block(x)[0], before, atol=1e-5)


def test_a_3d_global_block_and_a_strided_global_block_work():
    block = Local3DBlock(nn.Conv3d(3, 8, 3, padding=1), 3, 8, parts=["torso"])
    assert block(torch.randn(2, 3, 4, 8, 6)).shape == (2, 8, 4, 8, 6)
    for alignment in ALIGNMENTS:
        block = Local3DBlock(conv_block(3, 8, stride=2), 3, 8, alignment=alignment)
        assert block(torch.randn(2, 3, 4, 16, 12)).shape == (2, 8, 4, 8, 6)


def test_write_alignment_samples_each_part_at_its_prior_extent():
    block = make_block(alignment="write", parts=["torso", "left_arm"])
    with block.recording():
        block(torch.randn(1, 3, 10, 16, 11))
    # torso: 8 x 10 px over 0.4 * 10 frames; arm 3 x 3 px; padded to the torso's (4, 8, 10).
    assert block.last_volumes.shape == (2, 3, 4, 8, 10)
    assert block.last_volumes[1, :, :, 3:].abs().sum() == 0 and block.last_volumes[1, :, :, :, 3:].abs().sum() == 0
    assert torch.allclose(block.last_parameters["stride"][0, :, 0], torch.tensor([[1.0, 1.0], [1.0, 1.0]]))
    fixed = make_block(alignment="write", write_size=(2, 5, 4))
    with fixed.recording():
        fixed(torch.randn(1, 3, 10, 16, 11))
    assert fixed.last_volumes.shape == (6, 3, 2, 5, 4)


def test_bad_arguments_are_value_errors_naming_them():
    with pytest.raises(ValueError, match="mode"):
        make_block(mode="nearest")
    with pytest.raises(ValueError, match="alignment"):
        make_block(alignment="crop")
    with pytest.raises(ValueError, match="did you mean 'left_arm'"):
        make_block(parts=["left_amr"])
    with pytest.raises(ValueError, match="write_size is only used"):
        make_block(write_size=(3, 3, 3))
    with pytest.raises(ValueError, match="write_size must be"):
        make_block(alignment="write", write_size=(3, 3))
    with pytest.raises(ValueError, match="out_channels"):
        make_block(c_out=1)
    with pytest.raises(ValueError, match="extraction_depth must be an int >= 1, got 0"):
        make_block(extraction_depth=0)
    with pytest.raises(ValueError, match="extraction_depth needs feature_extraction"):
        make_block(feature_extraction=False, extraction_depth=2)
    block = make_block()
    with pytest.raises(ValueError, match=r"expects x \[n, 3, T, H, W\]"):
        block(torch.randn(2, 4, 5, 16, 11))
    wrong = Local3DBlock(conv_block(3, 6), 3, 8)
    with pytest.raises(ValueError, match="global_block must map"):
        wrong(torch.randn(2, 3, 5, 16, 11))


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("mode", MODES)
def test_write_fast_path_equals_writing_every_part_then_fusing(mode, stride):
    """The block samples each run of equal parts at exactly its size, convolves each part over its own points only,
    projects parts at their own resolution and writes all parts back summed; the straightforward way samples every
    part on the padded common grid, convolves the padded volumes, writes every part onto its own canvas and fuses
    the concatenation with the 1x1x1 conv (Sec. 3.2.4). Outputs and gradients (input, localization, feature
    extraction, fusion) agree, on a canvas of the input's size (where the block writes with the sampling's own
    filterbanks) and on a smaller one (stride 2: filterbanks rescaled to the canvas)."""
    from opengait_local3d.local3d.alignment import sampling_grid, write_filterbanks, write_layout
    from opengait_local3d.local3d.writing import write_volume

    torch.manual_seed(0)
    block = Local3DBlock(conv_block(3, 8, stride), 3, 8, alignment="write", mode=mode, fusion_init="default",
                         write_resolution=(8, 6)).double()
    with torch.no_grad():
        for head in (block.localization.frame_head, block.localization.sequence_head):
            head[-1].weight.normal_(std=0.5)  # parts off their priors, per frame
    block.eval()
    x = torch.randn(2, 3, 7, 16, 11, dtype=torch.float64, requires_grad=True)
    got = block(x)

    features = block.global_block(x)
    in_size, canvas = tuple(x.shape[2:]), tuple(features.shape[2:])
    grid = sampling_grid(write_layout(block.priors, in_size, None, (8, 6)), block.priors,
                         block.localization(features.detach()), in_size,
                         LocalizationBounds(offset_range=0.5, min_sigma=0.5))
    temporal_sigma2 = grid.temporal_sigma2 if mode == "gaussian" else None
    volumes = sample_volume(x, grid.mu_x, grid.mu_y, grid.mu_t, grid.sigma2, grid.gamma, mode,
                            temporal_sigma2=temporal_sigma2, mask_x=grid.mask_x, mask_y=grid.mask_y, mask_t=grid.mask_t)
    local = [F.relu(conv(volumes[:, p])) for p, conv in enumerate(block.extraction.convs)]
    written = write_volume(torch.stack(local, 1), *write_filterbanks(grid, mode, in_size, canvas))
    expected = F.relu(block.fusion.conv(torch.cat([features, *written.unbind(1)], dim=1)))
    assert torch.allclose(got, expected, atol=1e-10)
    cotangent = torch.randn_like(got)
    wrt = [x, *block.localization.parameters(), *block.extraction.parameters(), *block.fusion.parameters()]
    for got_grad, expected_grad in zip(torch.autograd.grad(got, wrt, cotangent, retain_graph=True),
                                       torch.autograd.grad(expected, wrt, cotangent)):
        assert torch.allclose(got_grad, expected_grad, atol=1e-9)


def test_a_block_built_with_its_defaults_starts_as_its_global_path():
    """With every default (identity fusion, ReLU after it) the block is ReLU(global block) at initialisation,
    whatever its local paths sample; with ``fusion_activation='none'`` it is the global block itself, LeakyReLU
    negatives included (so a network warm-started without local paths keeps its features)."""
    torch.manual_seed(0)
    global_block = conv_block(3, 8)
    x = torch.randn(2, 3, 7, 16, 11)
    expected = global_block(x)
    assert (expected < 0).any()  # the LeakyReLU's negatives, which the ReLU after the fusion clips
    assert torch.equal(Local3DBlock(global_block, 3, 8)(x), F.relu(expected))
    assert torch.equal(Local3DBlock(global_block, 3, 8, fusion_activation="none")(x), expected)


@pytest.mark.parametrize("alignment", ALIGNMENTS)
def test_the_gated_fusion_starts_shut_then_adds_the_gated_local_term(alignment):
    """``fusion_init='gate'``: at initialisation the block is ReLU(global block), its local weights are not zero and
    get no gradient while the gate gets one; with the gate set to g the output is the concatenation's conv with the
    local columns times g (checked against the plain conv on the concatenated features, zoom alignment)."""
    torch.manual_seed(0)
    block = make_block(alignment=alignment, fusion_init="gate")
    global_block = block.global_block
    x = torch.randn(2, 3, 5, 16, 11)
    assert torch.equal(block(x), F.relu(global_block(x)))
    assert block.fusion.conv.weight[:, 8:].abs().min() > 0
    block(x).square().sum().backward()
    assert block.fusion.gate.grad.abs() > 0
    assert torch.count_nonzero(block.fusion.conv.weight.grad[:, 8:]) == 0
    g = torch.randn(2, 8, 3, 4, 5)
    local = [torch.randn(2, 4, 3, 4, 5) for _ in range(6)]
    with torch.no_grad():
        block.fusion.gate.fill_(0.3)
        weight = block.fusion.conv.weight.clone()
        weight[:, 8:] *= 0.3
    expected = F.relu(F.conv3d(torch.cat([g, *local], dim=1), weight, block.fusion.conv.bias))
    assert torch.allclose(block.fusion(g, local), expected, atol=1e-5)
    assert block.fusion_weights()["torso"] == pytest.approx(weight[:, 12:16].abs().mean().item())


def test_the_temporal_variance_scales_with_the_square_of_the_temporal_stride():
    """Eq. 8 in time: sigma_t scales with the stride, so its variance with the stride's square:
    ``min_sigma^2 + prior variance x scale_t^2`` (at the prior scale 1, scale and square agree, so use 2 and 0.5)."""
    from opengait_local3d.local3d.alignment import sampling_grid, zoom_layout
    from opengait_local3d.local3d.localization import PartParameters

    priors = [DEFAULT_PRIORS["head"], DEFAULT_PRIORS["left_leg"]]
    layout = zoom_layout(priors, (12, 16, 11), (12, 16, 11))
    spatial, temporal = torch.zeros(1, 2, 12), torch.zeros(1, 2)
    scale_t = torch.tensor([[2.0, 0.5]])
    params = PartParameters(offset_x=spatial, offset_y=spatial, scale_x=spatial + 1, scale_y=spatial + 1,
                            scale_sigma2=spatial + 1, gamma=spatial + 1, offset_t=temporal, scale_t=scale_t)
    grid = sampling_grid(layout, priors, params, (12, 16, 11), LocalizationBounds(min_sigma=0.5))
    prior = torch.tensor(layout.prior_temporal_sigma2)
    assert torch.allclose(grid.temporal_sigma2, 0.25 + prior * torch.tensor([[4.0, 0.25]]))
    assert torch.allclose(grid.temporal_stride, torch.tensor(layout.t.prior_stride) * scale_t)


def test_local_lr_scale_scales_the_feature_extraction_and_fusion_learning_rate():
    from opengait_local3d.local3d import parameter_groups

    block = make_block(local_lr_scale=0.1, localization_lr_scale=0.5)
    lr_of = {id(p): group["lr"] for group in parameter_groups(block, 1.0) for p in group["params"]}
    for module, lr in ((block.global_block, 1.0), (block.localization, 0.5), (block.extraction, 0.1), (block.fusion, 0.1)):
        assert {lr_of[id(p)] for p in module.parameters()} == {lr}


def test_local_weight_decay_sets_the_feature_extraction_and_fusion_weight_decay_only():
    from opengait_local3d.local3d import parameter_groups

    block = make_block(local_weight_decay=5e-4, local_lr_scale=0.1, localization_lr_scale=0.5)
    optimizer = torch.optim.Adam(parameter_groups(block, 1.0), weight_decay=0.0)
    setting_of = {id(p): (group["lr"], group["weight_decay"]) for group in optimizer.param_groups
                  for p in group["params"]}
    for module, setting in ((block.global_block, (1.0, 0.0)), (block.localization, (0.5, 0.0)),
                            (block.extraction, (0.1, 5e-4)), (block.fusion, (0.1, 5e-4))):
        assert {setting_of[id(p)] for p in module.parameters()} == {setting}
    with pytest.raises(ValueError, match="local_weight_decay must be a number >= 0 or null, got -1"):
        make_block(local_weight_decay=-1)


def test_two_layer_extraction_applies_conv_relu_twice_per_part_and_keeps_the_first_layers_keys():
    from opengait_local3d.local3d import FeatureExtraction

    torch.manual_seed(0)
    one, two = FeatureExtraction(3, 4, 2), FeatureExtraction(3, 4, 2, depth=2)
    assert set(one.state_dict()) < set(two.state_dict())
    volumes = [torch.randn(2, 3, 5, 4, 3), torch.randn(2, 3, 3, 2, 2)]
    for p, (volume, feature) in enumerate(zip(volumes, two(volumes))):
        first, second = two.convs[p], two.deeper_convs[p][0]
        hidden = F.relu(F.conv3d(volume, first.weight, first.bias, padding=1))
        expected = F.relu(F.conv3d(hidden, second.weight, second.bias, padding=1))
        assert feature.shape == (2, 4, *volume.shape[2:])
        assert torch.allclose(feature, expected, atol=1e-6)
    block = make_block(extraction_depth=2)
    assert "extraction_depth=2" in repr(block)
    block(torch.randn(2, 3, 5, 16, 11)).sum().backward()
    assert all(conv.weight.grad is not None for layers in block.extraction.deeper_convs for conv in layers)


def test_local_dropout_acts_on_the_local_features_in_training_only():
    plain, dropping = make_block(fusion_init="default"), make_block(fusion_init="default", local_dropout=0.5)
    x = torch.randn(2, 3, 7, 16, 11)
    plain.eval(), dropping.eval()
    assert torch.equal(plain(x), dropping(x))
    dropping.train()
    with torch.no_grad():
        dropping.fusion.conv.weight[:, : dropping.fusion.widths[0]] = 0  # the output is the local paths' alone
        global_free = dropping(x)
        dropping.local_dropout.p = 0.0
        kept = dropping(x)
    assert not torch.equal(global_free, kept)
    with pytest.raises(ValueError, match="local_dropout must be a number in \\[0, 1\\), got 1"):
        make_block(local_dropout=1)



def test_detach_local_input_stops_only_the_local_paths_gradient_into_the_input():
    """With the sampling input detached, x reaches the output only through the global path: with no activation
    after the fusion, x's gradient is that of ``conv_global(global_block(x)) + bias``; the local paths still learn."""
    x = torch.randn(2, 3, 7, 16, 11, requires_grad=True)
    grad_out = torch.randn(2, 8, 7, 16, 11)
    gradients = {}
    for detach in (False, True):
        block = make_block(fusion_init="default", fusion_activation="none", detach_local_input=detach)
        (gradients[detach],) = torch.autograd.grad(block(x), x, grad_out)
    features = block.global_block(x)
    global_alone = block.fusion.combine(features, block.fusion.conv.bias.view(1, -1, 1, 1, 1).expand_as(features))
    (expected,) = torch.autograd.grad(global_alone, x, grad_out)
    assert torch.allclose(gradients[True], expected, atol=1e-5)
    assert not torch.allclose(gradients[False], expected, atol=1e-3)
    block.zero_grad()
    block(x).square().sum().backward()
    assert all(conv.weight.grad.abs().sum() > 0 for conv in block.extraction.convs)
    with pytest.raises(ValueError, match="detach_local_input must be true or false"):
        make_block(detach_local_input="yes")


@pytest.mark.parametrize("alignment", ["zoom", "write"])
def test_checkpoint_local_gives_the_same_outputs_and_gradients(alignment):
    """Recomputing the local paths in backward changes nothing: output, input gradient and every parameter's
    gradient equal the plain block's (local dropout included: the recomputation replays the RNG)."""
    results = []
    for checkpoint_local in (False, True):
        block = make_block(alignment=alignment, fusion_init="default", local_dropout=0.3,
                           checkpoint_local=checkpoint_local).double()
        x = torch.randn(2, 3, 7, 16, 11, dtype=torch.float64, generator=torch.Generator().manual_seed(1),
                        requires_grad=True)
        torch.manual_seed(5)
        out = block(x)
        out.square().sum().backward()
        results.append((out.detach(), x.grad, {k: p.grad for k, p in block.named_parameters()}))
    (plain_out, plain_x, plain_grads), (out, grad_x, grads) = results
    assert torch.allclose(out, plain_out, atol=1e-12) and torch.allclose(grad_x, plain_x, atol=1e-10)
    assert plain_grads.keys() == grads.keys()
    for name, grad in plain_grads.items():
        assert (grad is None) == (grads[name] is None), name
        assert grad is None or torch.allclose(grads[name], grad, atol=1e-10), name
    with pytest.raises(ValueError, match="checkpoint_local must be true or false"):
        make_block(checkpoint_local=1)


def test_the_fusion_computes_in_the_canvas_it_is_given_to_consume():
    """``combine(..., consume=True)`` computes the output in the local term's memory, with and without grad, the
    written canvas given as its voxels (as the block does) or as ``[n, c, T, H, W]``; the values equal the plain
    computation, the local term's gradient is the ReLU's mask, and a canvas not given up is left alone."""
    fusion = Fusion(8, 4, ["head"], init="default").double()
    features = torch.randn(2, 7, 5, 6, 8, dtype=torch.float64).permute(0, 4, 1, 2, 3)  # channels-last
    canvas = torch.randn(2, 7, 5, 6, 8, dtype=torch.float64).permute(0, 4, 1, 2, 3)
    c_g = 8
    expected = F.relu(F.conv3d(features, fusion.conv.weight[:, :c_g]) + canvas)
    kept = canvas.clone()
    assert torch.allclose(fusion.combine(features, canvas), expected, atol=1e-12) and torch.equal(canvas, kept)
    with torch.no_grad():
        consumed = canvas.clone()
        out = fusion.combine(features, consumed, consume=True)
    assert torch.allclose(out, expected, atol=1e-12) and out.data_ptr() == consumed.data_ptr()
    voxels = canvas.permute(0, 2, 3, 4, 1).reshape(-1, c_g)
    for given in (voxels, canvas):
        source = given.clone().requires_grad_()
        local = source * 1.0  # a tensor of the caller's own, as the write's canvas
        out = fusion.combine(features, local, consume=True)
        assert torch.allclose(out, expected, atol=1e-12) and out.data_ptr() == local.data_ptr()
        out.sum().backward()
        mask = (expected > 0).double()
        assert torch.equal(source.grad, mask.permute(0, 2, 3, 4, 1).reshape(-1, c_g) if given is voxels else mask)


def test_the_fusion_records_the_size_of_its_global_and_local_terms_in_training():
    """``last_contribution``: the RMS over the first sequence of conv_global(global) + bias and of the local term,
    which with no activation after the fusion is the output minus the global term; nothing in eval mode."""
    block = make_block(alignment="write", fusion_init="default", fusion_activation="none").double().train()
    x = torch.randn(2, 3, 7, 16, 11, dtype=torch.float64)
    with torch.no_grad():
        out = block(x)
        c_g = block.out_channels
        global_term = F.conv3d(block.global_block(x), block.fusion.conv.weight[:, :c_g], block.fusion.conv.bias)
    global_term, out = global_term[:1], out[:1]
    rms = {"global": global_term.square().mean().sqrt(), "local": (out - global_term).square().mean().sqrt()}
    assert set(block.fusion.last_contribution) == {"global", "local"}
    for term, value in rms.items():
        assert torch.allclose(block.fusion.last_contribution[term], value, rtol=1e-9), term
    assert float(rms["local"]) > 0
    block.eval()
    block(x)
    assert block.fusion.last_contribution == {}


@pytest.mark.parametrize("alignment", ["zoom", "write"])
def test_a_map_given_to_the_block_runs_before_the_activation_with_the_same_result(alignment):
    """``block(x, then=pool)`` (the ReLU on the pooled map) equals ``pool(block(x))`` in value and in every gradient,
    the fusion's output having negative and positive values."""
    pool = FrameWise(nn.MaxPool2d(2))
    x = torch.randn(2, 3, 5, 16, 11, dtype=torch.float64, requires_grad=True)
    results = []
    for deferred in (False, True):
        block = make_block(alignment=alignment, fusion_init="default").double()
        out = block(x, then=pool) if deferred else pool(block(x))
        cotangent = torch.randn(out.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        results.append((out, torch.autograd.grad(out, [x, *block.parameters()], cotangent, allow_unused=True)))
    (plain, plain_grads), (deferred, deferred_grads) = results
    assert (plain == 0).any() and (plain > 0).any()
    assert torch.allclose(deferred, plain, atol=1e-12)
    for got, expected in zip(deferred_grads, plain_grads):
        assert (got is None) == (expected is None) and (got is None or torch.allclose(got, expected, atol=1e-10))


class _TensorsFromPythonNumbers(TorchDispatchMode):
    """Counts the tensors made from Python numbers (``torch.tensor``, ``as_tensor`` of a number:
    ``aten.lift_fresh``)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += func is torch.ops.aten.lift_fresh.default
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("alignment", ALIGNMENTS)
def test_a_training_step_makes_no_tensor_from_python_numbers_after_the_first(mode, alignment):
    """On a GPU a tensor made from Python numbers is a copy from the host after which torch waits for every queued
    kernel: the priors and the layout's constants did that about twenty times per block and step. They are made once
    (the first step) and reused, also by a sequence of another length and in inference mode first."""
    block = make_block(mode=mode, alignment=alignment)
    with torch.inference_mode():
        block.eval()(torch.rand(1, 3, 7, 16, 11))
    block.train()
    block(torch.rand(2, 3, 5, 16, 11)).sum().backward()
    with _TensorsFromPythonNumbers() as made:
        block(torch.rand(2, 3, 5, 16, 11)).sum().backward()
    assert made.count == 0
