"""Part priors: the table of docs/design.md, 'Part priors', config overrides, and clear errors."""
import pytest

from opengait_local3d.local3d import DEFAULT_PRIORS, PART_NAMES, PartPrior, resolve_priors


def test_defaults_are_the_design_table():
    table = {  # cx, cy, height, width
        "head": (0.5, 1 / 16, 1 / 8, 4 / 11),
        "torso": (0.5, 3 / 8, 1 / 2, 10 / 11),
        "left_arm": (0.3, 0.5, 3 / 16, 3 / 11),
        "right_arm": (0.7, 0.5, 3 / 16, 3 / 11),
        "left_leg": (0.3, 0.8, 3 / 8, 5 / 11),
        "right_leg": (0.7, 0.8, 3 / 8, 5 / 11),
    }
    assert tuple(DEFAULT_PRIORS) == PART_NAMES == tuple(table)
    for name, (cx, cy, height, width) in table.items():
        prior = DEFAULT_PRIORS[name]
        assert (prior.cx, prior.cy, prior.height, prior.width) == pytest.approx((cx, cy, height, width))
        assert (prior.ct, prior.window, prior.sigma_ratio, prior.gamma) == (0.5, 0.4, 0.5, 0.5)


def test_resolve_keeps_order_and_applies_overrides():
    names, priors = resolve_priors(["left_leg", "head"], {"head": {"cy": 0.1, "window": 0.6}})
    assert names == ("left_leg", "head")
    assert priors[0] == DEFAULT_PRIORS["left_leg"]
    assert (priors[1].cy, priors[1].window, priors[1].cx) == (0.1, 0.6, 0.5)
    custom = PartPrior(cx=0.2, cy=0.2, height=0.1, width=0.1)
    assert resolve_priors(["torso"], {"torso": custom})[1] == (custom,)
    assert resolve_priors()[0] == PART_NAMES


@pytest.mark.parametrize(
    "parts, priors, message",
    [
        (["haed"], None, "unknown part in parts 'haed'.*did you mean 'head'"),
        (["head", "head"], None, "twice"),
        ([], None, "parts is empty"),
        (["head"], {"torso": {"cy": 0.3}}, "'torso', which is not among parts"),
        (["head"], {"hed": {"cy": 0.3}}, "did you mean 'head'"),
        (["head"], {"head": {"centre_y": 0.3}}, r"unknown field in priors\['head'\] 'centre_y'"),
        (["head"], {"head": {"cy": 1.5}}, r"priors\['head'\].*cy must lie in \[0, 1\]"),
        (["head"], {"head": {"gamma": 1.0}}, "gamma must lie in"),
        (["head"], {"head": {"width": 0}}, "width must be positive"),
        (["head"], {"head": 0.3}, "must be a PartPrior or a dict"),
    ],
)
def test_bad_config_is_a_clear_value_error(parts, priors, message):
    with pytest.raises(ValueError, match=message):
        resolve_priors(parts, priors)
