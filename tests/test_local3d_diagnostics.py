"""Part statistics: centres on the map, boxes on the map, windows in the clip, gamma, shift; hand-computed cases."""
import pytest
import torch
from torch import nn

from opengait_local3d.local3d import FrameWise, Local3DBlock, PartMonitor, named_local_blocks, part_statistics
from opengait_local3d.local3d.parts import PartPrior


def parameters(centres, extents, gammas, temporal):
    """One sequence, one part per entry of ``temporal``: ``centres``/``extents`` [P][T] of (x, y)."""
    return {
        "centre": torch.tensor([centres], dtype=torch.float32),
        "extent": torch.tensor([extents], dtype=torch.float32),
        "gamma": torch.tensor([gammas], dtype=torch.float32),
        "temporal_centre": torch.tensor([[c for c, _ in temporal]], dtype=torch.float32),
        "temporal_extent": torch.tensor([[e for _, e in temporal]], dtype=torch.float32),
    }


def test_hand_computed_fractions():
    # Map W=10, H=20, clip T=8. Part 0: frame 0 centred, box fully inside; frame 1 centre at x=11 (off), its
    # 4x4 box spans x 9..13 -> 1/4 of it on the map. Part 1: centre on the left edge (x=0 counts as on the map),
    # box 2x2 -> half on the map in x, all in y; frame 1 box 2x40 centred at y=10 -> half on the map in y.
    params = parameters(
        centres=[[(5, 10), (11, 10)], [(0, 5), (5, 10)]],
        extents=[[(4, 4), (4, 4)], [(2, 2), (2, 40)]],
        gammas=[[0.2, 0.4], [0.9, 0.7]],
        temporal=[(4, 8), (6, 6)],  # part 0: frames 0..8, in the clip; part 1: frames 3..9, not
    )
    stats = part_statistics(params, (8, 20, 10))
    assert stats["centre_on_map"].tolist() == [1.0, 2.0]
    assert stats["box_on_map"].tolist() == pytest.approx([1.0 + 0.25, 0.5 + 0.5])
    assert stats["window_in_clip"].tolist() == [1.0, 0.0]
    assert stats["gamma"].tolist() == pytest.approx([0.6, 1.6])
    assert stats["frames"].tolist() == [2.0, 2.0] and stats["sequences"].tolist() == [1.0, 1.0]
    assert "shift" not in stats
    # Priors: part 0 centred at (5, 10) with a 4 x 4 extent; part 1 at (2, 5) with a 2 x 10 extent. Part 0 moves
    # 0 then 6/4 of its width; part 1 moves (-2/2, 0) then (3/2, 5/10): 1 and sqrt(2.25 + 0.25).
    priors = [PartPrior(cx=0.5, cy=0.5, height=0.2, width=0.4), PartPrior(cx=0.2, cy=0.25, height=0.5, width=0.2)]
    shift = part_statistics(params, (8, 20, 10), priors)["shift"]
    assert shift.tolist() == pytest.approx([1.5, 1.0 + 2.5 ** 0.5])


def test_monitor_averages_over_calls_of_different_lengths_and_detaches_its_hooks():
    torch.manual_seed(0)
    block = Local3DBlock(
        FrameWise(nn.Conv2d(2, 4, 3, padding=1)), 2, 4, parts=["torso", "left_leg"], temporal_scale_range=3.0
    )
    with PartMonitor({"block1": block}) as monitor:
        block(torch.rand(2, 2, 6, 16, 11))
        with torch.no_grad():  # the torso's window: late (offset -> 1) and 3x as long, for the second call only
            block.localization.sequence_head[-1].bias[:2] = 10.0
        block(torch.rand(3, 2, 9, 16, 11))
    rows = {row.part: row for row in monitor.rows()}
    assert rows["torso"].window_in_clip == pytest.approx(2 / 5)  # 2 of 5 sequences
    assert rows["left_leg"].window_in_clip == 1.0
    assert rows["torso"].centre_on_map == 1.0 and rows["torso"].gamma == pytest.approx(0.5)
    assert rows["left_leg"].shift == pytest.approx(0.0, abs=1e-6)  # untrained: every part at its prior
    block(torch.rand(1, 2, 6, 16, 11))  # after the with block: not recorded
    assert [r.part for r in monitor.rows()] == ["torso", "left_leg"]
    assert monitor.rows()[0].window_in_clip == pytest.approx(2 / 5)


def test_named_local_blocks_finds_nested_blocks():
    inner = Local3DBlock(nn.Conv3d(1, 2, 1), 1, 2, parts=["head"])
    net = nn.Sequential(nn.Identity(), nn.Sequential(inner))
    assert named_local_blocks(net) == {"1.0": inner}


@pytest.mark.parametrize("alignment", ["zoom", "write"])
def test_default_ranges_keep_every_centre_on_the_map_and_every_window_in_the_clip(alignment):
    """Whatever the localization outputs: offsets within half a part's extent of a prior that lies on the map,
    and a temporal stride at most 1.5x the prior's (0.4 T window centred at 0.5 T -> at most 0.6 T within
    0.5 T +- 0.2 T) keep every part on the map and in the clip."""
    torch.manual_seed(0)
    block = Local3DBlock(FrameWise(nn.Conv2d(2, 4, 3, padding=1)), 2, 4, alignment=alignment)
    with torch.no_grad():
        for head in (block.localization.frame_head, block.localization.sequence_head):
            for p in head.parameters():
                p.copy_(torch.randn(p.shape) * 100)
    with PartMonitor({"block": block}) as monitor:
        block(torch.rand(4, 2, 12, 16, 11) * 10)
    for row in monitor.rows():
        assert row.centre_on_map == 1.0 and row.window_in_clip == 1.0, row
