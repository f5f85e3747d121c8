"""The 3D figure: a posed body (and its bag or coat) as capsules, ellipsoids and convex hulls.

Convention:
    A capsule is the set of points within a linearly varying radius of a segment (a tapered limb);
    an ellipsoid is ``centre + axes @ x`` for ``|x| <= 1``, with ``axes`` ``[3, 3]`` holding the
    semi-axis vectors as columns; a hull is a cloud of points whose 2D convex hull is filled after
    projection (the skirt of a coat). Every array has a leading frame dimension ``T``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import Bag, Coat, Subject, Walk
from .kinematics import SIDES, TAU, Pose, rotation_y, walking_pose

#: (start joint, end joint, radius attribute of Subject, taper of the end radius)
LIMBS = (("hip", "knee", "thigh_radius", 0.62), ("knee", "ankle", "shin_radius", 0.62),
         ("heel", "toe", None, 1.0), ("shoulder", "elbow", "upper_arm_radius", 0.8),
         ("elbow", "hand", "forearm_radius", 0.75))

#: limbs (by start joint) that segmentation may lose together: the shin with the foot, the forearm
DROPPABLE = (("knee", "heel"), ("elbow",))


def droppable_capsules() -> list[tuple[int, ...]]:
    """Indices of the capsules of each droppable limb, as :func:`walking_figure` orders them (sides, then LIMBS)."""
    starts = [start for start, *_ in LIMBS]
    return [tuple(side * len(LIMBS) + starts.index(start) for start in group)
            for side in range(len(SIDES)) for group in DROPPABLE]


@dataclass
class Figure:
    """Solids of one walk over ``T`` frames."""

    capsule_start: np.ndarray   # [T, C, 3]
    capsule_end: np.ndarray     # [T, C, 3]
    capsule_radii: np.ndarray   # [C, 2] start and end radius
    ellipsoid_centre: np.ndarray  # [T, E, 3]
    ellipsoid_axes: np.ndarray    # [T, E, 3, 3]
    hulls: list[np.ndarray]       # each [T, K, 3]
    anchors: np.ndarray           # [T, J, 3] joints that silhouette noise is drawn around


def walking_figure(walk: Walk, phase: np.ndarray) -> Figure:
    """Pose ``walk.subject`` at ``phase`` ``[T]`` and dress it with its bag or coat."""
    subject = walk.subject
    pose = walking_pose(subject, phase)
    coat = walk.coat
    sleeve = coat.sleeve if coat else 1.0
    starts, ends, radii = [], [], []
    for name in SIDES:
        for start, end, radius_name, taper in LIMBS:
            radius = getattr(subject, radius_name) if radius_name else 0.55 * subject.ankle_height
            if coat and start in ("shoulder", "elbow"):
                radius *= sleeve
                taper = max(taper, 0.9)
            starts.append(pose.points[f"{name}_{start}"])
            ends.append(pose.points[f"{name}_{end}"])
            radii.append((radius, radius * taper))
    starts.append(pose.points["neck"] - 0.02 * pose.frames["torso"][:, :, 2])
    ends.append(pose.points["head_base"])
    radii.append((0.42 * subject.head_radius, 0.42 * subject.head_radius))

    centres, axes = _body_ellipsoids(subject, pose, coat)
    hulls = [_coat_skirt(subject, pose, coat)] if coat else []
    if walk.bag is not None:
        bag_centre, bag_axes = _bag(subject, pose, walk.bag, phase)
        centres.append(bag_centre)
        axes.append(bag_axes)
        if walk.bag.kind == "shoulder":
            strap_top = pose.points[f"{'left' if walk.bag.side < 0 else 'right'}_shoulder"]
            starts.append(strap_top)
            ends.append(bag_centre)
            radii.append((0.008, 0.008))
    anchors = np.stack([pose.points[key] for key in sorted(pose.points)], 1)
    return Figure(np.stack(starts, 1), np.stack(ends, 1), np.array(radii), np.stack(centres, 1),
                  np.stack(axes, 1), hulls, anchors)


def _scaled_axes(frame: np.ndarray, forward: float, left: float, up: float) -> np.ndarray:
    """Semi-axis vectors ``[T, 3, 3]``: the columns of ``frame`` scaled by the half-extents."""
    return frame * np.array([forward, left, up])


def _body_ellipsoids(subject: Subject, pose: Pose, coat: Coat | None) -> tuple[list, list]:
    girth = coat.girth if coat else 1.0
    torso, head = pose.frames["torso"], pose.frames["head"]
    up = torso[:, :, 2]
    length = subject.torso_length
    chest_centre = pose.points["pelvis"] + 0.68 * length * up
    belly_forward = max(subject.belly_depth - subject.chest_depth, 0.0) * 0.5
    abdomen_centre = pose.points["pelvis"] + 0.16 * length * up + belly_forward * torso[:, :, 0]
    centres = [chest_centre, abdomen_centre, pose.points["head"]]
    axes = [
        _scaled_axes(torso, girth * subject.chest_depth, girth * subject.chest_width, 0.3 * length),
        _scaled_axes(torso, girth * subject.belly_depth, girth * subject.waist_width, 0.32 * length),
        _scaled_axes(head, 1.08 * subject.head_radius, subject.head_radius,
                     subject.head_radius * subject.head_aspect),
    ]
    return centres, axes


def _bag(subject: Subject, pose: Pose, bag: Bag, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre ``[T, 3]`` and axes ``[T, 3, 3]`` of the bag, hanging from the body part that carries it."""
    torso = pose.frames["torso"]
    if bag.kind == "backpack":
        centre = (pose.points["pelvis"] + 0.62 * subject.torso_length * torso[:, :, 2]
                  - (subject.chest_depth + bag.depth) * torso[:, :, 0])
        return centre, _scaled_axes(torso, bag.depth, bag.width, bag.height)
    if bag.kind == "front":
        centre = (pose.points["pelvis"] + 0.3 * subject.torso_length * torso[:, :, 2]
                  + (subject.belly_depth + 0.8 * bag.depth) * torso[:, :, 0])
        return centre, _scaled_axes(torso, bag.depth, bag.width, bag.height)
    swing = rotation_y(bag.swing * np.sin(phase + bag.swing_lag))
    hang = pose.frames["shoulders"] @ swing
    side = "left" if bag.side > 0 else "right"
    if bag.kind == "hand":
        top = pose.points[f"{side}_hand"]
    else:
        top = (pose.points["pelvis"] + 0.25 * subject.torso_length * torso[:, :, 2]
               + bag.side * (subject.waist_width + bag.width) * torso[:, :, 1])
    centre = top - bag.height * hang[:, :, 2]
    return centre, _scaled_axes(hang, bag.depth, bag.width, bag.height)


def _coat_skirt(subject: Subject, pose: Pose, coat: Coat, points: int = 12) -> np.ndarray:
    """Points ``[T, 2 * points, 3]`` on a ring at the waist and a ring at the hem around both thighs."""
    angles = np.linspace(0, TAU, points, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles)], -1)  # [K, 2]
    torso = pose.frames["torso"]
    waist_centre = pose.points["pelvis"] + 0.2 * subject.torso_length * torso[:, :, 2]
    waist = waist_centre[:, None] + coat.girth * (
        subject.belly_depth * ring[:, 0, None] * torso[:, None, :, 0]
        + subject.waist_width * ring[:, 1, None] * torso[:, None, :, 1])
    hem_knees = [pose.points[f"{side}_hip"] + coat.length * (pose.points[f"{side}_knee"] - pose.points[f"{side}_hip"])
                 for side in SIDES]
    hem_centre = 0.5 * (hem_knees[0] + hem_knees[1])
    half_span = 0.5 * np.abs(hem_knees[0] - hem_knees[1]) + subject.thigh_radius + coat.flare
    hem = hem_centre[:, None] + np.concatenate(
        [half_span[:, None, :2] * ring[None], np.zeros((hem_centre.shape[0], points, 1))], -1)
    return np.concatenate([waist, hem], 1)
