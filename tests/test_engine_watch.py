"""Training warnings: a part leaving the clip or the map, collapsing triplet distances; each said once."""
import torch
from torch import nn

from opengait_local3d.engine.watch import TrainingWatch
from opengait_local3d.local3d import FrameWise, Local3DBlock
from opengait_local3d.modeling.losses import CrossEntropyLoss, TripletLoss


class Net(nn.Module):
    def __init__(self, **options):
        super().__init__()
        torch.manual_seed(0)
        self.block = Local3DBlock(FrameWise(nn.Conv2d(2, 4, 3, padding=1)), 2, 4, parts=["torso", "left_leg"],
                                  **options)

    def named_local_blocks(self):
        return {"block1": self.block}

    def forward(self, x):
        return self.block(x)


def watch_of(net):
    said = []
    return TrainingWatch(net, {"triplet": TripletLoss(0.2), "softmax": CrossEntropyLoss()}, said.append), said


def test_a_part_leaving_the_clip_is_said_once_naming_block_and_part():
    net = Net(temporal_scale_range=3.0, offset_range=1.0)
    watch, said = watch_of(net)
    net(torch.rand(3, 2, 8, 16, 11))
    watch.check(10, {})
    assert said == []
    with torch.no_grad():  # torso: late and 3x as long -> out of the clip; its centre 1 width right -> off the map
        net.block.localization.sequence_head[-1].bias[:2] = 10.0
        net.block.localization.frame_head[-1].bias[0] = 10.0
    for iteration in (20, 30):
        net(torch.rand(3, 2, 8, 16, 11))
        watch.check(iteration, {})
    assert len(said) == 2 and all(s.startswith("iteration 20: block1 torso:") for s in said), said
    assert "off the map in 100% of the frames" in said[0] and "leaves the clip in 100% of the sequences" in said[1]


def test_collapsing_triplet_distances_are_said_once():
    watch, said = watch_of(Net())
    watch.check(50, {"scalar/triplet/mean_dist": torch.tensor([0.5, 0.4])})
    assert said == []
    watch.check(100, {"scalar/triplet/mean_dist": torch.tensor([0.05, 0.04])})
    watch.check(150, {"scalar/triplet/mean_dist": torch.tensor([0.01])})
    assert len(said) == 1 and said[0].startswith("iteration 100: triplet: the mean triplet distance 0.045")
