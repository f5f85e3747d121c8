"""OpenGait's silhouette augmentations on whole batches: OpenCV's geometry, one draw per sequence, OpenGait's
probabilities and ranges, and a training run with GaitBase's augmentation list.

OpenCV is the independent reference for the geometry: OpenGait builds its matrices with
``cv2.getRotationMatrix2D`` / ``getPerspectiveTransform`` / ``getAffineTransform`` and warps each frame with
``cv2.warpAffine`` / ``warpPerspective``.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from conftest import TINY_MODEL_CFGS, write_partition, write_pkl_dataset
from opengait_local3d.engine import ConfigError, run
from opengait_local3d.engine.checkpoint import checkpoint_path, load_checkpoint
from opengait_local3d.engine.data import get_transform
from opengait_local3d.engine.data.augmentations import (RandomAffine, RandomErasing, RandomHorizontalFlip,
                                                        RandomPerspective, RandomRotate)

WARPS = {"RandomRotate": RandomRotate, "RandomAffine": RandomAffine, "RandomPerspective": RandomPerspective}
ALL = {**WARPS, "RandomHorizontalFlip": RandomHorizontalFlip, "RandomErasing": RandomErasing}


def smooth_frame(height: int = 64, width: int = 64) -> np.ndarray:
    """A float32 frame in [0, 1] with structure everywhere (any warp or flip changes it)."""
    yy, xx = np.mgrid[0:height, 0:width]
    return (0.5 + 0.25 * np.sin(xx / 5.0 + 0.3) * np.cos(yy / 7.0) + 0.2 * xx / width).astype(np.float32)


def batch_of(frames_per_sequence: list[int], height: int = 64, width: int = 64) -> torch.Tensor:
    """Packed ``[1, sum(s), h, w]``: every frame of every sequence is the same smooth frame."""
    frame = torch.from_numpy(smooth_frame(height, width))
    return frame.expand(1, sum(frames_per_sequence), height, width).clone()


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", sorted(WARPS))
@pytest.mark.parametrize("size", [(64, 64), (64, 44)])
def test_each_warp_is_opencvs_warp_with_the_drawn_matrix(name, size):
    height, width = size
    augmentation = WARPS[name](prob=1.0)
    x = batch_of([1, 1, 1], height, width).reshape(3, 1, height, width)
    out = augmentation(x, None, generator(3))
    matrices = augmentation.draw(3, height, width, generator(3))[-1]
    frame = smooth_frame(height, width)
    for i in range(3):
        matrix = matrices[i].numpy()
        if name == "RandomPerspective":
            expected = cv2.warpPerspective(frame, matrix, (width, height))
        else:
            expected = cv2.warpAffine(frame, matrix[:2], (width, height))
        np.testing.assert_allclose(out[i, 0].numpy(), expected, atol=1e-4)  # measured: 1e-5 (float32 rounding)
    as_uint8 = (x * 255).round().to(torch.uint8)
    out8 = augmentation(as_uint8, None, generator(3))
    expected8 = [cv2.warpPerspective(as_uint8[i, 0].numpy(), matrices[i].numpy(), (width, height))
                 if name == "RandomPerspective" else
                 cv2.warpAffine(as_uint8[i, 0].numpy(), matrices[i, :2].numpy(), (width, height)) for i in range(3)]
    assert out8.dtype == torch.uint8
    assert np.abs(out8[:, 0].numpy().astype(int) - np.stack(expected8).astype(int)).max() <= 1  # OpenCV rounds too


def test_drawn_matrices_are_opencvs_for_the_drawn_parameters():
    height, width = 64, 44
    _, angles, rotations = RandomRotate(prob=1.0, degree=10).draw(20, height, width, generator())
    for angle, rotation in zip(angles.tolist(), rotations.numpy()):
        np.testing.assert_allclose(rotation[:2], cv2.getRotationMatrix2D((width // 2, height // 2), angle, 1),
                                   atol=1e-9)
    _, corners, perspectives = RandomPerspective(prob=1.0).draw(20, 64, 64, generator())
    canvas = np.float32([[0, 0], [64, 0], [64, 64], [0, 64]])
    for source, perspective in zip(corners.numpy(), perspectives.numpy()):
        np.testing.assert_allclose(perspective, cv2.getPerspectiveTransform(source.astype(np.float32), canvas),
                                   atol=1e-6)
    _, source, target, affines = RandomAffine(prob=1.0).draw(20, 64, 64, generator())
    for src, dst, affine in zip(source.numpy(), target.numpy(), affines.numpy()):
        np.testing.assert_allclose(affine[:2], cv2.getAffineTransform(src.astype(np.float32), dst.astype(np.float32)),
                                   atol=1e-6)


def test_drawn_parameters_cover_opengaits_ranges():
    count = 4000
    _, angles, _ = RandomRotate(prob=1.0, degree=15).draw(count, 64, 44, generator(1))
    assert angles.min() >= -15 and angles.max() <= 15 and angles.min() < -14.5 and angles.max() > 14.5

    _, corners, _ = RandomPerspective(prob=1.0).draw(count, 64, 64, generator(2))  # int(64 // 44) * 10 = 10
    left, right = corners[:, [0, 3], 0], corners[:, [1, 2], 0]
    assert set(left.unique().tolist()) == set(range(10)) and set(right.unique().tolist()) == set(range(54, 64))
    assert corners[:, :2, 1].eq(0).all() and corners[:, 2:, 1].eq(64).all()
    assert not torch.equal(corners[:, 0, 0], corners[:, 3, 0])  # every corner is drawn on its own

    _, source, target, _ = RandomAffine(prob=1.0).draw(count, 64, 64, generator(3))
    corners = torch.tensor([[0, 0], [64, 0], [0, 64]], dtype=torch.float64)
    for points in (source, target):
        shifts = (points - corners).abs()  # inwards by int(64 // 64 * 10) = 10 at most, exclusive
        assert set(shifts.unique().tolist()) == set(range(10))
    assert (source[:, 1, 0] <= 64).all() and (source[:, 2, 1] <= 64).all()

    height, width = 64, 44
    boxes = RandomErasing(prob=1.0, sl=0.05, sh=0.2, r1=0.3).draw(count, height, width, generator(4))
    assert boxes.chosen.all()
    assert (boxes.top >= 0).all() and (boxes.top + boxes.height <= height).all()
    assert (boxes.left >= 0).all() and (boxes.left + boxes.width <= width).all()
    area = (boxes.height * boxes.width).double() / (height * width)
    ratio = boxes.height.double() / boxes.width.double()
    # rounding rows and columns to whole pixels moves the area and ratio a little past their ranges
    assert area.min() > 0.05 * 0.75 and area.max() < 0.2 * 1.25 and ratio.min() > 0.3 * 0.75 and ratio.max() < 1.25 / 0.3
    # the area is drawn uniformly in [sl, sh] * h * w: the mean of the fitting ones is near the middle
    assert abs(area.mean().item() - 0.125) < 0.01


@pytest.mark.parametrize("name", sorted(ALL))
def test_one_draw_per_sequence_applies_to_all_its_frames_and_sequences_draw_independently(name):
    lengths = [3, 5, 2, 4, 6, 3]
    x = batch_of(lengths)
    out = ALL[name](prob=1.0)(x, torch.tensor([lengths]), generator(5))
    sequences = out[0].split(lengths)
    for sequence in sequences:
        assert torch.equal(sequence, sequence[:1].expand_as(sequence)), "frames of one sequence treated alike"
        assert not torch.equal(sequence[0], x[0, 0]), "prob 1 changes every sequence"
    firsts = [s[0] for s in sequences]
    if name != "RandomHorizontalFlip":  # a flip has one outcome; the others draw a different one per sequence
        assert all(not torch.equal(firsts[i], firsts[j]) for i in range(len(firsts)) for j in range(i))


@pytest.mark.parametrize("name", sorted(ALL))
def test_packed_and_fixed_batches_of_the_same_sequences_get_the_same_draws(name):
    fixed = torch.rand(4, 3, 64, 64, generator=generator(6))
    packed = fixed.reshape(1, 12, 64, 64)
    augmentation = ALL[name](prob=0.5)
    out_fixed = augmentation(fixed, None, generator(7))
    out_packed = augmentation(packed, torch.tensor([[3, 3, 3, 3]]), generator(7))
    assert torch.equal(out_fixed.reshape(1, 12, 64, 64), out_packed)


@pytest.mark.parametrize("name", sorted(ALL))
def test_each_sequence_is_augmented_with_probability_prob(name):
    count, prob = 3000, 0.3
    x = batch_of([1] * count).reshape(count, 1, 64, 64)
    out = ALL[name](prob=prob)(x, None, generator(8))
    changed = (out != x).flatten(1).any(1).double().mean().item()
    assert abs(changed - prob) < 4 * math.sqrt(prob * (1 - prob) / count)  # 4 standard deviations


def test_erasing_zeroes_exactly_the_drawn_rectangle_and_per_frame_draws_per_frame():
    x = torch.full((3, 2, 64, 44), 200, dtype=torch.uint8)
    erasing = RandomErasing(prob=1.0)
    out = erasing(x, None, generator(9))
    boxes = erasing.draw(3, 64, 44, generator(9))
    for i in range(3):
        expected = torch.full((64, 44), 200, dtype=torch.uint8)
        top, left = boxes.top[i].item(), boxes.left[i].item()
        expected[top:top + boxes.height[i].item(), left:left + boxes.width[i].item()] = 0
        assert torch.equal(out[i, 0], expected) and torch.equal(out[i, 1], expected)
    per_frame = RandomErasing(prob=1.0, per_frame=True)(x, None, generator(9))
    assert not torch.equal(per_frame[0, 0], per_frame[0, 1])


def test_frames_too_small_for_opengaits_ranges_are_refused_by_name():
    with pytest.raises(ConfigError, match=r"RandomPerspective: frames 32 pixels wide .* w must be >= 44"):
        RandomPerspective(prob=1.0)(torch.zeros(2, 3, 64, 32), None, generator())
    with pytest.raises(ConfigError, match=r"RandomAffine: frames 32 pixels high .* h must be >= 64"):
        RandomAffine(prob=1.0)(torch.zeros(2, 3, 32, 32), None, generator())


#: the augmentations of OpenGait's GaitBase configs (gaitbase_da_gait3d.yaml and gaitbase_da_casiab.yaml), with
#: RandomAffine as in its DA4GaitSSB, in OpenGait's order and arguments
GAITBASE_TRANSFORM = [{"type": "Compose", "trf_cfg": [
    {"type": "RandomPerspective", "prob": 0.2},
    {"type": "BaseSilCuttingTransform"},
    {"type": "RandomHorizontalFlip", "prob": 0.2},
    {"type": "RandomRotate", "prob": 0.2},
    {"type": "RandomAffine", "prob": 0.2},
    {"type": "RandomErasing", "prob": 0.3},
]}]


def test_gaitbase_transform_cuts_and_augments_64_pixel_silhouettes():
    transform, = get_transform(GAITBASE_TRANSFORM, "trainer_cfg.transform")
    x = (torch.rand(8, 5, 64, 64, generator=generator(10)) > 0.5).to(torch.uint8) * 255
    out = transform(x, None, generator(11))
    assert out.shape == (8, 5, 64, 44) and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1


def test_two_training_iterations_with_gaitbases_augmentations(tmp_path):
    ids = ("001", "002", "003", "004", "005")
    root = write_pkl_dataset(tmp_path / "data", ids, types=("nm-01", "nm-02"), views=("000",), frames=(8, 10),
                             size=(64, 64))
    partition = write_partition(tmp_path / "partition.json", ids[:3], ids[3:])
    cfg = {
        "data_cfg": {"dataset_name": "CASIA-B", "dataset_root": str(root), "dataset_partition": str(partition),
                     "num_workers": 0},
        "model_cfg": TINY_MODEL_CFGS["Local3DCNN"] | {"class_num": 3},
        "trainer_cfg": {"total_iter": 2, "save_iter": 2, "log_iter": 1, "save_name": "gaitbase_da",
                        "sampler": {"batch_size": [2, 2], "frames_num_fixed": 6, "sample_type": "fixed_unordered",
                                    "type": "TripletSampler"},
                        "transform": GAITBASE_TRANSFORM},
        "evaluator_cfg": {"save_name": "gaitbase_da", "sampler": {"batch_size": 2}},
        "engine_cfg": {"output_root": str(tmp_path / "output")},
    }
    result = run(cfg, "train", device="cpu")
    assert result.iteration == 2
    checkpoint = load_checkpoint(checkpoint_path(result.save_path, "gaitbase_da", 2))
    assert checkpoint["iteration"] == 2 and all(torch.isfinite(v).all() for v in checkpoint["model"].values()
                                                  if v.is_floating_point())
