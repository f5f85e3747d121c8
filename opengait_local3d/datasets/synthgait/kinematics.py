"""Walking kinematics: periodic joint angles -> 3D joint positions, vectorised over frames.

Convention:
    ``phase`` is the gait phase of the left leg in radians, one value per frame ``[T]``; 0 is the
    left heel strike. The right leg runs half a cycle behind, each arm swings against the leg on its
    side. Joint angles are short Fourier-like curves (cosines and von Mises bumps) whose amplitudes
    and timings are the subject's gait style. Positions are ``[T, 3]`` in the body frame
    (x forward, y left, z up, stature about 1); orientations are ``[T, 3, 3]`` with the frame's
    forward, left and up axes as columns.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import DEG, Subject

TAU = 2 * np.pi
SIDES = {"left": 1.0, "right": -1.0}


@dataclass
class Pose:
    """Joint positions ``points[name] -> [T, 3]`` and body-part frames ``frames[name] -> [T, 3, 3]``."""

    points: dict[str, np.ndarray]
    frames: dict[str, np.ndarray]


def rotation_x(angle: np.ndarray) -> np.ndarray:
    """Roll about x: ``[T] -> [T, 3, 3]`` (positive tilts z towards -y)."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    return np.stack([np.stack([one, zero, zero], -1), np.stack([zero, c, -s], -1),
                     np.stack([zero, s, c], -1)], -2)


def rotation_y(angle: np.ndarray) -> np.ndarray:
    """Pitch about y: ``[T] -> [T, 3, 3]`` (positive tilts z towards +x, a forward lean)."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    return np.stack([np.stack([c, zero, s], -1), np.stack([zero, one, zero], -1),
                     np.stack([-s, zero, c], -1)], -2)


def rotation_z(angle: np.ndarray) -> np.ndarray:
    """Yaw about z: ``[T] -> [T, 3, 3]`` (positive turns x towards +y)."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    return np.stack([np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1),
                     np.stack([zero, zero, one], -1)], -2)


def bump(phase: np.ndarray, centre: float, sharpness: float) -> np.ndarray:
    """Periodic bump, 1 at ``centre`` and near 0 half a cycle away (a von Mises shape)."""
    return np.exp(sharpness * (np.cos(phase - centre) - 1))


def _apply(rotation: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``[T, 3, 3] @ [T, 3] or [3] -> [T, 3]``."""
    return np.einsum("tij,...tj->ti", rotation, np.broadcast_to(vector, rotation.shape[:-1]))


def _limb_direction(swing: np.ndarray, side: float, spread: float) -> np.ndarray:
    """Unit direction ``[T, 3]`` of a limb hanging down, swung forward by ``swing`` and out by ``spread``."""
    return np.stack([np.sin(swing) * np.cos(spread), np.full_like(swing, side * np.sin(spread)),
                     -np.cos(swing) * np.cos(spread)], -1)


def walking_pose(subject: Subject, phase: np.ndarray) -> Pose:
    """Joint positions and part frames of ``subject`` at the gait phases ``phase`` ``[T]``."""
    phase = np.asarray(phase, dtype=np.float64)
    points: dict[str, np.ndarray] = {}
    leg_phase = {"left": phase, "right": phase + np.pi}
    pelvis = rotation_z(-subject.pelvis_yaw * np.cos(phase + 0.2 * np.pi))
    shoulders = rotation_z(0.5 * subject.pelvis_yaw * np.cos(phase + 0.2 * np.pi))
    torso = shoulders @ rotation_y(np.full_like(phase, subject.torso_lean)) @ rotation_x(
        -subject.sway * np.sin(phase))
    head = torso @ rotation_y(np.full_like(phase, subject.head_lean))
    hip_centre = np.zeros((phase.size, 3))
    hip_centre[:, 2] = subject.ankle_height + subject.thigh_length + subject.shin_length
    points["pelvis"] = hip_centre
    for name, side in SIDES.items():
        legs = leg_phase[name]
        asym = np.sqrt(subject.stride_ratio) ** side
        knee_asym = np.sqrt(subject.knee_ratio) ** side
        hip_angle = subject.hip_offset + subject.hip_amplitude * asym * np.cos(legs + 0.2 * np.pi)
        knee_angle = knee_asym * (subject.knee_swing * bump(legs, 0.73 * TAU, 6.0)
                                  + subject.bounce * 22 * DEG * bump(legs, 0.15 * TAU, 10.0))
        foot_pitch = 12 * DEG * bump(legs, 0.0, 12.0) - (10 + 25 * subject.bounce) * DEG * bump(
            legs, 0.6 * TAU, 14.0)
        hip = hip_centre + _apply(pelvis, np.array([0.0, side * subject.hip_width, 0.0]))
        knee = hip + subject.thigh_length * _apply(pelvis, _limb_direction(hip_angle, -side,
                                                                           subject.leg_adduction))
        ankle = knee + subject.shin_length * _apply(pelvis, _limb_direction(hip_angle - knee_angle, -side,
                                                                            subject.leg_adduction))
        foot = pelvis @ rotation_y(-foot_pitch)
        points[f"{name}_hip"], points[f"{name}_knee"], points[f"{name}_ankle"] = hip, knee, ankle
        points[f"{name}_heel"] = ankle + _apply(foot, np.array([-0.2 * subject.foot_length, 0.0,
                                                                -0.6 * subject.ankle_height]))
        points[f"{name}_toe"] = ankle + _apply(foot, np.array([0.75 * subject.foot_length, 0.0,
                                                               -0.75 * subject.ankle_height]))
    neck = hip_centre + subject.torso_length * torso[:, :, 2]
    points["neck"] = neck
    points["head_base"] = neck + subject.neck_length * head[:, :, 2]
    points["head"] = points["head_base"] + subject.head_radius * subject.head_aspect * 0.9 * head[:, :, 2]
    for name, side in SIDES.items():
        arm_phase = leg_phase[name] + 0.2 * np.pi + np.pi + subject.arm_phase
        swing = subject.arm_swing * np.sqrt(subject.arm_swing_ratio) ** side
        shoulder_angle = subject.arm_offset + swing * np.cos(arm_phase)
        elbow_angle = subject.elbow_flex + subject.elbow_swing * 0.5 * (1 + np.cos(arm_phase))
        shoulder = neck + _apply(torso, np.array([0.0, side * subject.shoulder_width, -0.035]))
        elbow = shoulder + subject.upper_arm_length * _apply(
            shoulders, _limb_direction(shoulder_angle, side, subject.arm_abduction))
        hand = elbow + subject.forearm_length * _apply(
            shoulders, _limb_direction(shoulder_angle + elbow_angle, side, 0.6 * subject.arm_abduction))
        points[f"{name}_shoulder"], points[f"{name}_elbow"], points[f"{name}_hand"] = shoulder, elbow, hand
    frames = {"pelvis": pelvis, "shoulders": shoulders, "torso": torso, "head": head}
    return Pose(points, frames)
