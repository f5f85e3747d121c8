"""Who walks, and how: the identity of a SynthGait subject and the nuisance of one walk.

Convention:
    Lengths are in units of the subject's stature (about 1), angles in radians. The body frame has
    x forward (walking direction), y to the subject's left, z up. Per-subject parameters
    (:class:`Subject`) are the identity: body proportions and gait style. Per-walk parameters
    (:class:`Walk`) are what changes between two recordings of the same person: speed, small posture
    and clothing changes, and the covariate (bag or coat). One walk is seen by all eleven cameras at
    once, as in CASIA-B, so :class:`Walk` is shared by the views of a sequence.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

DEG = np.pi / 180


@dataclass(frozen=True)
class Subject:
    """Identity: body proportions, posture and gait style of one person."""

    # proportions (fractions of stature)
    head_radius: float
    head_aspect: float          # vertical / horizontal head radius
    neck_length: float
    torso_length: float         # pelvis centre to neck base
    chest_width: float          # half-widths and half-depths of the chest and abdomen ellipsoids
    chest_depth: float
    waist_width: float
    belly_depth: float
    shoulder_width: float       # half distance between shoulder joints
    hip_width: float            # half distance between hip joints
    thigh_length: float
    shin_length: float
    ankle_height: float
    foot_length: float
    upper_arm_length: float
    forearm_length: float       # elbow to fingertips
    thigh_radius: float         # at the hip; limbs taper to 0.6 of it at their far end
    shin_radius: float
    upper_arm_radius: float
    forearm_radius: float
    # posture
    torso_lean: float           # forward pitch of the torso
    head_lean: float            # forward pitch of the head over the torso
    arm_abduction: float
    leg_adduction: float        # legs converge towards the midline
    # gait style
    period: float               # frames per gait cycle at 25 fps
    hip_amplitude: float        # thigh swing, forward and back
    hip_offset: float           # mean thigh flexion
    knee_swing: float           # peak knee flexion in swing
    bounce: float               # stance knee flexion and push-off: a springy gait
    arm_swing: float            # shoulder swing amplitude
    arm_offset: float           # mean shoulder flexion
    elbow_flex: float           # mean elbow flexion
    elbow_swing: float
    arm_phase: float            # arm lag behind anti-phase with the same-side leg
    sway: float                 # torso roll amplitude (waddle)
    pelvis_yaw: float           # pelvis rotation amplitude
    # left / right asymmetries (left value = right value * ratio)
    arm_swing_ratio: float
    stride_ratio: float
    knee_ratio: float


@dataclass(frozen=True)
class Bag:
    """A carried bag: ``kind`` is 'backpack', 'front' (a pouch on the belly), 'shoulder' (hanging at the hip)
    or 'hand'."""

    kind: str
    side: int                   # +1 left, -1 right (unused for a backpack)
    width: float                # half-extents of the bag ellipsoid
    depth: float
    height: float
    swing: float                # pendulum amplitude of a hanging bag
    swing_lag: float
    arm_damping: float = 1.0    # factor on the carrying arm's swing (a hand bag)


@dataclass(frozen=True)
class Coat:
    """A coat: it widens the torso, thickens the sleeves and hides the upper legs."""

    girth: float                # factor on the chest / abdomen half-widths and depths
    sleeve: float               # factor on the arm radii
    length: float               # hem position along the thigh (0 = hip, 1 = knee)
    flare: float                # extra half-width of the hem
    arm_damping: float = 1.0    # factor on both arms' swing (a heavy coat)


@dataclass(frozen=True)
class Walk:
    """One recorded walk of a subject (shared by all views of a sequence)."""

    subject: Subject
    bag: Bag | None = None
    coat: Coat | None = None


def equip(subject: Subject, bag: Bag | None = None, coat: Coat | None = None) -> Walk:
    """A walk of ``subject`` carrying ``bag`` and wearing ``coat``, with their effect on the gait.

    A bag damps the swing of the arm that carries it; a coat damps both arms and its padded
    shoulders push the arms out, so that they hang outside the wider torso.
    """
    if bag is not None:
        # kinematics gives the left arm arm_swing * sqrt(ratio) and the right arm_swing / sqrt(ratio)
        subject = replace(subject, arm_swing=subject.arm_swing * np.sqrt(bag.arm_damping),
                          arm_swing_ratio=subject.arm_swing_ratio * bag.arm_damping ** bag.side)
    if coat is not None:
        subject = replace(subject, arm_swing=subject.arm_swing * coat.arm_damping,
                          shoulder_width=subject.shoulder_width + (coat.girth - 1) * subject.chest_width,
                          arm_abduction=subject.arm_abduction + 3 * DEG)
    return Walk(subject, bag=bag, coat=coat)


def sample_subject(rng: np.random.Generator, spread: float = 1.0) -> Subject:
    """Draw one identity. Ranges are wide enough that subjects differ visibly at 32-64 px.

    ``spread`` < 1 narrows every range around its centre by that factor (closer identities); the
    same uniform draws are used, so a parameter's distance from its range's centre scales by ``spread``.
    """
    u = rng.uniform if spread == 1 else _narrowed(rng, spread)
    mass = u(0.8, 1.35)         # overall build, scales every girth
    legs = u(0.44, 0.52)        # hip-to-ankle length
    thigh_fraction = u(0.47, 0.54)
    arm = u(0.29, 0.36)
    head_radius, head_aspect, neck, ankle = u(0.052, 0.068), u(1.05, 1.25), u(0.025, 0.05), u(0.035, 0.045)
    return Subject(
        head_radius=head_radius,
        head_aspect=head_aspect,
        neck_length=neck,
        torso_length=1 - ankle - legs - neck - 2 * head_radius * head_aspect,
        chest_width=mass * u(0.085, 0.12),
        chest_depth=mass * u(0.055, 0.08),
        waist_width=mass * u(0.075, 0.11),
        belly_depth=mass * u(0.05, 0.1),
        shoulder_width=u(0.095, 0.13),
        hip_width=u(0.055, 0.08),
        thigh_length=legs * thigh_fraction,
        shin_length=legs * (1 - thigh_fraction),
        ankle_height=ankle,
        foot_length=u(0.12, 0.16),
        upper_arm_length=arm * u(0.52, 0.58),
        forearm_length=arm * u(0.42, 0.48) + 0.05,
        thigh_radius=mass * u(0.042, 0.058),
        shin_radius=mass * u(0.028, 0.036),
        upper_arm_radius=mass * u(0.024, 0.034),
        forearm_radius=mass * u(0.019, 0.026),
        torso_lean=u(-2, 9) * DEG,
        head_lean=u(-5, 20) * DEG,
        arm_abduction=u(3, 14) * DEG,
        leg_adduction=u(0, 4) * DEG,
        period=u(23, 31),
        hip_amplitude=u(15, 26) * DEG,
        hip_offset=u(0, 8) * DEG,
        knee_swing=u(45, 70) * DEG,
        bounce=u(0.2, 1.0),
        arm_swing=u(6, 34) * DEG,
        arm_offset=u(-4, 8) * DEG,
        elbow_flex=u(5, 40) * DEG,
        elbow_swing=u(0, 25) * DEG,
        arm_phase=u(-0.5, 0.5),
        sway=u(0, 5) * DEG,
        pelvis_yaw=u(2, 8) * DEG,
        arm_swing_ratio=float(np.exp(u(-0.35, 0.35))),
        stride_ratio=float(np.exp(u(-0.1, 0.1))),
        knee_ratio=float(np.exp(u(-0.12, 0.12))),
    )


def _narrowed(rng: np.random.Generator, spread: float):
    """``rng.uniform`` with every ``[low, high]`` shrunk by ``spread`` around its centre."""
    def uniform(low: float, high: float) -> float:
        centre = 0.5 * (low + high)
        return centre + spread * (rng.uniform(low, high) - centre)
    return uniform


#: per walk: speed range (factor on cadence); bag kinds and bag ranges in statures and degrees; coat
#: ranges (girth, sleeve, hem along the thigh, flare, arm damping). Index ``False``: the clean generator's,
#: ``True``: varied covariates (a jacket to a long coat, a front pouch, larger and smaller bags).
SPEED = {False: (0.93, 1.07), True: (0.8, 1.2)}
BAG_KINDS = {False: ("backpack", "shoulder", "hand"), True: ("backpack", "shoulder", "hand", "front")}
PACK_RANGES = {False: ((0.09, 0.13), (0.05, 0.09), (0.11, 0.17)), True: ((0.07, 0.15), (0.04, 0.11), (0.08, 0.2))}
HANGING_RANGES = {False: ((0.03, 0.07), (0.07, 0.14), (0.07, 0.12), (3, 12)),
                  True: ((0.03, 0.09), (0.05, 0.18), (0.05, 0.16), (2, 20))}
COAT_RANGES = {False: ((1.25, 1.55), (1.5, 1.9), (0.6, 1.2), (0.02, 0.06), (0.6, 0.9)),
               True: ((1.1, 1.6), (1.2, 2.0), (0.15, 1.6), (0.0, 0.12), (0.5, 1.0))}


def sample_walk(rng: np.random.Generator, subject: Subject, covariate: str, varied: bool = False) -> Walk:
    """Draw one walk of ``subject``; ``covariate`` is 'nm', 'bg' or 'cl' (CASIA-B type prefix).

    Every walk varies speed, posture, arm swing and clothing a little; 'bg' adds a bag (a hand bag
    also damps that arm's swing), 'cl' adds a coat (whose weight damps both arms' swing). ``varied``
    widens the speed range and the kinds and sizes of bags and coats (see :data:`COAT_RANGES`).
    """
    u = rng.uniform
    speed = u(*SPEED[varied])
    walked = replace(
        subject,
        period=subject.period / speed,
        hip_amplitude=subject.hip_amplitude * speed ** 0.5,
        torso_lean=subject.torso_lean + u(-2, 2) * DEG,
        head_lean=subject.head_lean + u(-4, 4) * DEG,
        arm_swing=subject.arm_swing * u(0.85, 1.15),
        arm_phase=subject.arm_phase + u(-0.15, 0.15),
        chest_width=subject.chest_width * u(0.96, 1.06),
        waist_width=subject.waist_width * u(0.96, 1.06),
        belly_depth=subject.belly_depth * u(0.96, 1.06),
    )
    if covariate == "bg":
        return equip(walked, bag=_sample_bag(rng, varied))
    if covariate == "cl":
        girth, sleeve, length, flare, damping = COAT_RANGES[varied]
        return equip(walked, coat=Coat(girth=u(*girth), sleeve=u(*sleeve), length=u(*length), flare=u(*flare),
                                       arm_damping=u(*damping)))
    if covariate != "nm":
        raise ValueError(f"sample_walk: covariate must be 'nm', 'bg' or 'cl', got {covariate!r}")
    return Walk(walked)


def _sample_bag(rng: np.random.Generator, varied: bool) -> Bag:
    u = rng.uniform
    kinds = BAG_KINDS[varied]
    kind = kinds[rng.integers(len(kinds))]
    side = 1 if rng.random() < 0.5 else -1
    if kind in ("backpack", "front"):
        width, depth, height = PACK_RANGES[varied]
        return Bag(kind, side, width=u(*width), depth=u(*depth), height=u(*height), swing=0.0, swing_lag=0.0)
    width, depth, height, swing = HANGING_RANGES[varied]
    return Bag(kind, side, width=u(*width), depth=u(*depth), height=u(*height),
               swing=u(*swing) * DEG, swing_lag=u(0.3, 1.2), arm_damping=u(0.2, 0.6) if kind == "hand" else 1.0)
