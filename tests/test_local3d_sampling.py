"""sample_volume (Eq. 10), sample_groups and write_volume against references written out here."""
import math

import pytest
import torch
import torch.nn.functional as F

from opengait_local3d.local3d import PartGroup, sample_groups, sample_volume, write_summed, write_volume
from opengait_local3d.local3d.sampling import part_filterbanks, run_filterbanks

N_, C_, T_, H_, W_ = 2, 3, 5, 7, 6  # clip
P_, L_, NR_, MC_ = 3, 4, 3, 5  # parts, output frames, rows, columns
F64 = torch.float64


def plain_gaussian(mu, sigma2, size):
    """Eqs. 7-8 with pixel centres at p + 0.5, written with a loop-free broadcast."""
    p = torch.arange(size, dtype=mu.dtype) + 0.5
    g = torch.exp(-((mu[..., None] - p) ** 2) / (2 * sigma2[..., None, None]))
    return g / g.sum(-1, keepdim=True)


def plain_linear(mu, size):
    """Tent weights max(0, 1 - |u - p|) with u = mu - 0.5: linear interpolation, zeros outside."""
    p = torch.arange(size, dtype=mu.dtype)
    return torch.clamp(1 - (mu[..., None] - 0.5 - p).abs(), min=0)


def random_arguments(seed=0, dtype=F64, parts=True):
    g = torch.Generator().manual_seed(seed)
    lead = (N_, P_) if parts else (N_,)

    def rand(*shape, low=0.0, high=1.0):
        return torch.rand(*shape, generator=g, dtype=dtype) * (high - low) + low

    return dict(
        x=torch.randn(N_, C_, T_, H_, W_, generator=g, dtype=dtype),
        mu_x=rand(*lead, T_, MC_, low=-1, high=W_ + 1),
        mu_y=rand(*lead, T_, NR_, low=-1, high=H_ + 1),
        mu_t=rand(*lead, L_, low=-0.5, high=T_ + 0.5),
        sigma2=rand(*lead, T_, low=0.2, high=2.0),
        gamma=rand(*lead, T_),
    )


def eq10(args, spatial, temporal):
    """V[n,p,c,l,i,j] = sum_t T[l,t] gamma_t sum_{h,w} G_Y^t[i,h] G_X^t[j,w] x[c,t,h,w]."""
    gy, gx = spatial(args["mu_y"], H_), spatial(args["mu_x"], W_)
    return torch.einsum("nplt,npt,nptiy,nptjx,nctyx->npclij", temporal, args["gamma"], gy, gx, args["x"])


def test_mixture_is_eq10_gaussian_space_linear_time():
    """Values and gradients (clip, every grid, variance, gamma) of Eq. 10 written plainly."""
    args = {k: v.requires_grad_() for k, v in random_arguments().items()}
    expected = eq10(args, lambda mu, s: plain_gaussian(mu, args["sigma2"], s), plain_linear(args["mu_t"], T_))
    got = sample_volume(**args, mode="mixture")
    assert got.shape == (N_, P_, C_, L_, NR_, MC_)
    assert torch.allclose(got, expected, atol=1e-12)
    cotangent = torch.randn_like(got)
    inputs = list(args.values())
    for a, b in zip(torch.autograd.grad(got, inputs, cotangent), torch.autograd.grad(expected, inputs, cotangent)):
        assert torch.allclose(a, b, atol=1e-10)


def test_gaussian_mode_uses_the_given_temporal_variance():
    args = random_arguments(1)
    temporal_sigma2 = torch.rand(N_, P_, dtype=F64) + 0.5
    temporal = plain_gaussian(args["mu_t"], temporal_sigma2, T_)
    expected = eq10(args, lambda mu, s: plain_gaussian(mu, args["sigma2"], s), temporal)
    got = sample_volume(**args, mode="gaussian", temporal_sigma2=temporal_sigma2)
    assert torch.allclose(got, expected, atol=1e-12)


def test_gaussian_mode_default_temporal_sigma_is_half_the_grid_spacing():
    args = random_arguments(2)
    args["mu_t"] = 1.0 + 0.8 * torch.arange(L_, dtype=F64).expand(N_, P_, L_)
    expected = sample_volume(**args, mode="gaussian", temporal_sigma2=0.4**2)
    assert torch.allclose(sample_volume(**args, mode="gaussian"), expected, atol=1e-12)


def test_trilinear_equals_linear_filterbanks():
    args = random_arguments(3)
    expected = eq10(args, plain_linear, plain_linear(args["mu_t"], T_))
    assert torch.allclose(sample_volume(**args, mode="trilinear"), expected, atol=1e-12)


def test_trilinear_equals_torch_grid_sample_3d_for_frame_constant_grids():
    """With the same spatial grid in every frame and gamma = 1, Eq. 10 is trilinear interpolation."""
    args = random_arguments(4, parts=False)
    args["mu_x"] = args["mu_x"][:, :1].expand(-1, T_, -1)
    args["mu_y"] = args["mu_y"][:, :1].expand(-1, T_, -1)
    gx = args["mu_x"][:, 0] * 2 / W_ - 1  # [n, M]
    gy = args["mu_y"][:, 0] * 2 / H_ - 1  # [n, N]
    gt = args["mu_t"] * 2 / T_ - 1  # [n, L]
    grid = torch.stack(
        torch.broadcast_tensors(gx[:, None, None, :], gy[:, None, :, None], gt[:, :, None, None]), -1
    )
    expected = F.grid_sample(args["x"], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    args["gamma"] = torch.ones(N_, T_, dtype=F64)
    got = sample_volume(**args, mode="trilinear")
    assert got.shape == (N_, C_, L_, NR_, MC_)
    assert torch.allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("mode", ["mixture", "gaussian", "trilinear"])
def test_parts_batch_equals_one_part_at_a_time(mode):
    args = random_arguments(5)
    together = sample_volume(**args, mode=mode)
    for p in range(P_):
        alone = {k: (v if k == "x" else v[:, p]) for k, v in args.items()}
        assert torch.allclose(together[:, p], sample_volume(**alone, mode=mode), atol=1e-12)


@pytest.mark.parametrize("mode", ["mixture", "gaussian", "trilinear"])
def test_groups_of_their_own_sizes_equal_the_padded_grid_cropped(mode):
    """Parts 0-1 on 2 frames x 3 rows x 4 columns, part 2 on 4 x 2 x 5: each group sampled at its size is the
    common 4 x 3 x 5 grid sampled in one call (the points past each part's, continuing it) cropped to its corner,
    in value and in the gradient of the clip and of every grid."""
    args = {k: v.requires_grad_() for k, v in random_arguments(9).items()}
    temporal_sigma2 = torch.tensor([[0.3, 0.5, 0.7], [0.4, 0.6, 0.8]], dtype=F64) if mode == "gaussian" else None
    padded = sample_volume(**args, mode=mode, temporal_sigma2=temporal_sigma2)
    runs = [(slice(0, 2), (2, 3, 4)), (slice(2, 3), (4, 2, 5))]
    groups = [PartGroup(args["mu_x"][:, p, :, :m], args["mu_y"][:, p, :, :r], args["mu_t"][:, p, :l],
                        args["sigma2"][:, p], args["gamma"][:, p], None if temporal_sigma2 is None else temporal_sigma2[:, p])
              for p, (l, r, m) in runs]
    got = sample_groups(args["x"], groups, mode)
    expected = [padded[:, p, :, :l, :r, :m] for p, (l, r, m) in runs]
    for g, e in zip(got, expected):
        assert g.shape == e.shape and torch.allclose(g, e, atol=1e-12)
    cotangents = [torch.randn_like(g) for g in got]
    inputs = [v for k, v in args.items() if not (mode == "trilinear" and k == "sigma2")]  # trilinear: no sigma
    for a, b in zip(torch.autograd.grad(got, inputs, cotangents), torch.autograd.grad(expected, inputs, cotangents)):
        assert torch.allclose(a, b, atol=1e-12)
    with pytest.raises(ValueError, match="at least one group"):
        sample_groups(args["x"], [], mode)
    with pytest.raises(ValueError, match=r"\[n, P, T, M\]"):
        sample_groups(args["x"], [PartGroup(*(v[:, 0] for v in groups[0][:5]))], mode)


@pytest.mark.parametrize("mode", ["mixture", "gaussian", "trilinear"])
def test_run_filterbanks_are_each_runs_own_filterbanks_in_value_and_gradient(mode):
    """The filterbanks of all runs of parts computed as one per axis (the points of every run packed) are, run by run,
    the filterbanks of the run alone (its parts on their first L, N, M points of the common grid), and so are the
    gradients of every grid and variance; runs of one part and of one frame included."""
    args = {k: v.requires_grad_() for k, v in random_arguments(11).items()}
    temporal_sigma2 = torch.tensor([[0.3, 0.5, 0.7], [0.4, 0.6, 0.8]], dtype=F64, requires_grad=True)
    common = PartGroup(args["mu_x"], args["mu_y"], args["mu_t"], args["sigma2"], args["gamma"],
                       temporal_sigma2 if mode == "gaussian" else None)
    runs = [(slice(0, 1), (1, 3, 2)), (slice(1, 3), (4, 2, 5))]
    got = run_filterbanks(common, runs, (T_, H_, W_), mode)
    expected = [part_filterbanks(PartGroup(args["mu_x"][:, p, :, :m], args["mu_y"][:, p, :, :r],
                                           args["mu_t"][:, p, :l], args["sigma2"][:, p], args["gamma"][:, p],
                                           temporal_sigma2[:, p] if mode == "gaussian" else None), (T_, H_, W_), mode)
                for p, (l, r, m) in runs]
    got_banks = [bank for banks in got for bank in banks if bank is not None]
    expected_banks = [bank for banks in expected for bank in banks if bank is not None]
    assert len(got_banks) == len(expected_banks) == (2 if mode == "trilinear" else 6)
    for g, e in zip(got_banks, expected_banks):
        assert g.shape == e.shape and torch.allclose(g, e, atol=1e-14)
    cotangents = [torch.randn_like(g) for g in got_banks]
    inputs = [args["mu_t"]] + ([] if mode == "trilinear" else [args["mu_x"], args["mu_y"], args["sigma2"]])
    inputs += [temporal_sigma2] if mode == "gaussian" else []
    for a, b in zip(torch.autograd.grad(got_banks, inputs, cotangents),
                    torch.autograd.grad(expected_banks, inputs, cotangents)):
        assert torch.allclose(a, b, atol=1e-12)
    if mode == "gaussian":
        with pytest.raises(ValueError, match="temporal_sigma2"):
            run_filterbanks(common._replace(temporal_sigma2=None), runs, (T_, H_, W_), mode)


@pytest.mark.parametrize("mode", ["mixture", "trilinear"])
def test_each_sample_depends_only_on_itself(mode):
    args = random_arguments(6, dtype=torch.float32)
    before = sample_volume(**args, mode=mode)[0]
    changed = {k: v.clone() for k, v in args.items()}
    for value in changed.values():
        value[1:] = value[1:] * 3 + 1
    assert torch.allclose(sample_volume(**changed, mode=mode)[0], before, atol=1e-6)


@pytest.mark.parametrize("mode", ["mixture", "gaussian", "trilinear"])
def test_masks_zero_exactly_the_masked_rows_columns_frames(mode):
    args = random_arguments(7)
    mask_y = torch.tensor([[0, 1, 1], [1, 1, 0], [1, 1, 1]], dtype=F64)  # [P, N]
    mask_x = torch.tensor([1, 1, 0, 1, 1], dtype=F64)  # [M], all parts
    mask_t = torch.tensor([1, 0, 1, 1], dtype=F64)
    plain = sample_volume(**args, mode=mode)
    got = sample_volume(**args, mode=mode, mask_x=mask_x, mask_y=mask_y, mask_t=mask_t)
    keep = mask_y[None, :, None, None, :, None] * mask_x * mask_t[:, None, None]
    assert torch.equal(got, plain * keep)


@pytest.mark.parametrize("mode", ["mixture", "gaussian", "trilinear"])
def test_gradcheck_float64(mode):
    shapes = dict(n=1, P=2, T=3, H=4, W=3, L=2, N=2, M=2)
    g = torch.Generator().manual_seed(8)
    s = shapes
    inputs = (
        torch.randn(s["n"], 2, s["T"], s["H"], s["W"], generator=g, dtype=F64),
        torch.rand(s["n"], s["P"], s["T"], s["M"], generator=g, dtype=F64) * s["W"],
        torch.rand(s["n"], s["P"], s["T"], s["N"], generator=g, dtype=F64) * s["H"],
        torch.rand(s["n"], s["P"], s["L"], generator=g, dtype=F64) * s["T"],
        torch.rand(s["n"], s["P"], s["T"], generator=g, dtype=F64) + 0.3,
        torch.rand(s["n"], s["P"], s["T"], generator=g, dtype=F64),
    )
    inputs = tuple(v.requires_grad_() for v in inputs)
    # A fixed temporal variance: the default one follows mu_t's spacing without being differentiated.
    extra = {"temporal_sigma2": 0.6} if mode == "gaussian" else {}
    assert torch.autograd.gradcheck(lambda *a: sample_volume(*a, mode, **extra), inputs)


@pytest.mark.parametrize("mode", ["mixture", "gaussian", "trilinear"])
def test_extreme_parameters_stay_finite(mode):
    args = random_arguments(9, dtype=torch.float32)
    args["mu_x"] = args["mu_x"] * torch.tensor([0.0, 1e6, -1e6]).view(1, 3, 1, 1)  # collapsed, far off the map
    args["mu_y"] = args["mu_y"] * 1e-6
    args["mu_t"] = args["mu_t"] * torch.tensor([1e7, -1e7, 0.0]).view(1, 3, 1)
    args["sigma2"] = torch.tensor([0.0, 1e-12, 1e12]).view(1, 3, 1).expand(N_, P_, T_).clone()
    args["gamma"] = torch.tensor([0.0, 1.0, 0.5]).view(1, 3, 1).expand(N_, P_, T_).clone()
    leaves = {k: v.requires_grad_() for k, v in args.items()}
    out = sample_volume(**leaves, mode=mode)
    out.square().sum().backward()
    assert torch.isfinite(out).all()
    unused = {"sigma2"} if mode == "trilinear" else set()
    assert all(torch.isfinite(v.grad).all() for k, v in leaves.items() if k not in unused)


def test_bad_arguments_name_the_argument():
    args = random_arguments(10)
    cases = [
        (dict(mode="bilinear"), "mode"),
        (dict(x=args["x"][0]), "x must be"),
        (dict(mu_x=args["mu_x"][0, 0]), "mu_x must be"),
        (dict(mu_y=args["mu_y"][:, :2]), "mu_y must be"),
        (dict(mu_y=args["mu_y"][:, :, :2]), "mu_y must be"),
        (dict(mu_t=args["mu_t"][..., None]), "mu_t must be"),
        (dict(sigma2=args["sigma2"][..., :2]), "sigma2 must be"),
        (dict(gamma=torch.ones(4)), "gamma of shape"),
        (dict(mask_y=torch.ones(P_, NR_ + 1)), "mask_y of shape"),
        (dict(temporal_sigma2=1.0), "temporal_sigma2 is only used in 'gaussian'"),
        (dict(mu_t=args["mu_t"].float()), "mu_t must be a torch.float64 tensor"),
        (dict(sigma2=[1.0]), "sigma2 must be a torch.float64 tensor"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            sample_volume(**{**args, "mode": "mixture", **change})


def plain_write(volumes, g_t, g_y, g_x):
    """Transposed filterbanks, each input position's column divided by max(sum over the rows, 1)."""
    def back(bank):
        return bank / bank.sum(-2, keepdim=True).clamp(min=1)

    return torch.einsum("npclyx,nplt,nptyh,nptxw->npcthw", volumes, back(g_t), back(g_y), back(g_x))


def test_write_volume_is_the_normalised_transpose():
    g = torch.Generator().manual_seed(11)
    volumes = torch.randn(2, 3, 4, 5, 3, 2, generator=g, dtype=F64)
    g_t = torch.rand(2, 3, 5, 6, generator=g, dtype=F64)
    g_y = torch.rand(2, 3, 6, 3, 7, generator=g, dtype=F64) * 0.5  # coverage below and above 1
    g_x = torch.rand(2, 3, 6, 2, 4, generator=g, dtype=F64)
    got = write_volume(volumes, g_t, g_y, g_x)
    assert got.shape == (2, 3, 4, 6, 7, 4)
    assert torch.allclose(got, plain_write(volumes, g_t, g_y, g_x), atol=1e-12)


def test_write_of_a_constant_is_that_constant_where_covered_and_fades_outside():
    """A part sampled at stride 0.5 px (upsampling): no 1/stride gain inside, 0 far away."""
    size, points = 16, 9
    mu = 8.0 + 0.5 * (torch.arange(points, dtype=F64) - points / 2 + 0.5)  # covers pixels ~6..10
    bank = plain_gaussian(mu, torch.tensor(0.25, dtype=F64), size)  # [K, S]
    g_t = plain_linear(torch.tensor([0.5], dtype=F64), 1).view(1, 1, 1, 1)
    g_s = bank.view(1, 1, 1, points, size)
    out = write_volume(torch.full((1, 1, 1, 1, points, points), 3.0, dtype=F64), g_t, g_s, g_s)[0, 0, 0, 0]
    assert torch.allclose(out[7:10, 7:10], torch.full((3, 3), 3.0, dtype=F64), atol=1e-6)
    assert out.max().item() <= 3.0 + 1e-9
    assert out[0, 0].item() == pytest.approx(0.0, abs=1e-12) and out[15, 8].item() < 1e-6


def test_write_volume_rejects_mismatched_filterbanks():
    volumes = torch.zeros(1, 2, 3, 4, 5, 6)
    with pytest.raises(ValueError, match="g_t must have shape"):
        write_volume(volumes, torch.zeros(1, 2, 3, 7), torch.zeros(1, 2, 7, 5, 8), torch.zeros(1, 2, 7, 6, 9))
    with pytest.raises(ValueError, match="g_x must have shape"):
        write_volume(volumes, torch.zeros(1, 2, 4, 7), torch.zeros(1, 2, 7, 5, 8), torch.zeros(1, 2, 7, 5, 9))
    with pytest.raises(ValueError, match="volumes must be"):
        write_volume(volumes[0], None, None, None)


def test_plain_references_agree_with_each_other():
    """The test's own references: Gaussian rows sum to 1; the tent is linear interpolation."""
    mu = torch.tensor([1.25, 2.5], dtype=F64)
    assert torch.allclose(plain_gaussian(mu, torch.tensor(0.3, dtype=F64), 4).sum(-1), torch.ones(2, dtype=F64))
    assert plain_linear(mu, 4).tolist() == [[0.25, 0.75, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    assert math.isclose(float(plain_linear(torch.tensor([3.9], dtype=F64), 4)[0, 3]), 0.6, rel_tol=1e-12)


def test_write_volume_summed_over_parts_is_the_sum_of_the_parts_writes():
    g = torch.Generator().manual_seed(12)
    volumes = torch.randn(2, 3, 4, 5, 3, 2, generator=g, dtype=F64)
    g_t = torch.rand(2, 3, 5, 6, generator=g, dtype=F64)
    g_y = torch.rand(2, 3, 6, 3, 7, generator=g, dtype=F64) * 0.5
    g_x = torch.rand(2, 3, 6, 2, 4, generator=g, dtype=F64)
    got = write_volume(volumes, g_t, g_y, g_x, sum_parts=True)
    assert got.shape == (2, 4, 6, 7, 4)
    assert torch.allclose(got, plain_write(volumes, g_t, g_y, g_x).sum(1), atol=1e-12)



def test_write_summed_writes_groups_of_parts_of_different_sizes_and_sums_them():
    """Two groups with their own (L, N, M), one GEMM for the rows (on CPU, one per 32 canvas rows: 37 rows here): the
    sum of every part written alone, in value and gradient; a bias within the GEMM adds itself to every voxel and gets
    the canvas gradient summed over the voxels."""
    g = torch.Generator().manual_seed(13)
    groups = []
    for P, L, N, M in ((2, 4, 3, 2), (1, 2, 5, 3)):
        shapes = ((2, P, 3, L, N, M), (2, P, L, 6), (2, P, 6, N, 37), (2, P, 6, M, 4))  # volumes, g_t, g_y, g_x
        groups.append(tuple(torch.rand(*shape, generator=g, dtype=F64) - 0.3 for shape in shapes))
    inputs = [tensor.requires_grad_() for group in groups for tensor in group]
    got = write_summed(groups)
    assert got.shape == (2, 3, 6, 37, 4)
    expected = sum(plain_write(*group).sum(1) for group in groups)
    assert torch.allclose(got, expected, atol=1e-12)
    grad_out = torch.rand(got.shape, generator=g, dtype=F64)
    for a, b in zip(torch.autograd.grad(got, inputs, grad_out), torch.autograd.grad(expected, inputs, grad_out)):
        assert torch.allclose(a, b, atol=1e-12)  # volumes and every filterbank of both groups
    bias = torch.randn(3, dtype=F64, requires_grad=True)
    biased = write_summed(groups, bias=bias)
    assert torch.allclose(biased, got + bias.view(1, 3, 1, 1, 1), atol=1e-12)
    (bias_grad,) = torch.autograd.grad(biased, bias, grad_out)
    assert torch.allclose(bias_grad, grad_out.sum((0, 2, 3, 4)), atol=1e-12)
    voxels = write_summed(groups, bias=bias, voxels=True)
    assert voxels.shape == (2 * 6 * 37 * 4, 3)
    assert torch.equal(voxels, biased.permute(0, 2, 3, 4, 1).reshape(-1, 3))
    with pytest.raises(ValueError, match="groups must share n, c and the canvas"):
        write_summed([groups[0], (groups[1][0][:, :, :2], *groups[1][1:])])
    with pytest.raises(ValueError, match="at least one group"):
        write_summed([])


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore:`torch.jit.trace` is deprecated")
@pytest.mark.parametrize("grad", [False, True])
def test_traced_sampler_and_write_are_standard_operators_with_the_same_values(grad):
    """While traced (export), the sampler's spatial filters and the summed write run as standard operators (no autograd
    function of ours, no ``out=``), with grad on or off, and compute what the eager forms do."""
    args = random_arguments(21)
    g = torch.Generator().manual_seed(22)
    groups = [tuple(torch.rand(*shape, generator=g, dtype=F64) - 0.3 for shape in shapes) for shapes in (
        ((2, 2, 3, 4, 3, 2), (2, 2, 4, 6), (2, 2, 6, 3, 37), (2, 2, 6, 2, 4)),
        ((2, 1, 3, 2, 5, 3), (2, 1, 2, 6), (2, 1, 6, 5, 37), (2, 1, 6, 3, 4)))]
    bias = torch.randn(3, dtype=F64)
    inputs = (*args.values(), bias, *(t for group in groups for t in group))
    if grad:
        inputs = tuple(t.clone().requires_grad_() for t in inputs)

    def both(x, mu_x, mu_y, mu_t, sigma2, gamma, bias, *banks):
        volumes = sample_volume(x, mu_x, mu_y, mu_t, sigma2, gamma, "mixture")
        written = write_summed([banks[:4], banks[4:]], bias=bias)
        return volumes, written

    with torch.set_grad_enabled(grad):
        traced = torch.jit.trace(both, inputs, check_trace=False)
        eager = both(*inputs)
    assert "PythonOp" not in str(traced.graph)
    for got, expected in zip(traced(*inputs), eager):
        assert torch.allclose(got, expected, atol=1e-12)
