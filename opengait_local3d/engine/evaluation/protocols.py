"""Gallery/probe protocols of the indoor gait datasets, as data, and the test-set check.

Two protocol families, as OpenGait defines them:

* single-view gallery (the standard one, the paper's Tables 1-2): every (probe view, gallery view)
  pair is a separate retrieval task whose gallery holds only the gallery types at that view;
* cross-view gallery (``cross_view_gallery=True``): each probe is matched against the gallery of all
  views at once, leaving out only the probe subject's own sequences at the probe's view.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from ...utils.suggestions import did_you_mean

__all__ = ["Protocol", "DATASET_ALIASES", "get_protocol", "check_test_set", "sorted_views"]


@dataclass(frozen=True)
class Protocol:
    """Which sequence types form the gallery and which form each probe condition.

    Attributes:
        dataset: the dataset's canonical name (``'CASIA-B'``, ``'OUMVLP'``).
        gallery_types: sequence types of the gallery, e.g. ``('nm-01', ..., 'nm-04')``.
        conditions: probe condition name -> its sequence types, in report order,
            e.g. ``{'NM': ('nm-05', 'nm-06'), 'BG': ..., 'CL': ...}``.
        cross_view: whether the gallery spans all views (see the module docstring).
    """

    dataset: str
    gallery_types: tuple[str, ...]
    conditions: Mapping[str, tuple[str, ...]]
    cross_view: bool = False

    @property
    def probe_types(self) -> tuple[str, ...]:
        """All probe types, condition by condition."""
        return tuple(t for types in self.conditions.values() for t in types)


def _protocol(dataset: str, gallery: Sequence[str], conditions: dict, cross_view: bool) -> Protocol:
    return Protocol(dataset, tuple(gallery), MappingProxyType(conditions), cross_view)


#: (canonical dataset name, cross_view_gallery) -> protocol. OU-MVLP: gallery '01', probe '00'
#: (OpenGait's choice; the paper uses the first sequence as gallery).
PROTOCOLS: Mapping[tuple[str, bool], Protocol] = MappingProxyType({
    ("CASIA-B", False): _protocol(
        "CASIA-B", ["nm-01", "nm-02", "nm-03", "nm-04"],
        {"NM": ("nm-05", "nm-06"), "BG": ("bg-01", "bg-02"), "CL": ("cl-01", "cl-02")}, False),
    ("OUMVLP", False): _protocol("OUMVLP", ["01"], {"NM": ("00",)}, False),
    ("CASIA-B", True): _protocol(
        "CASIA-B", ["nm-02", "bg-02", "cl-02"],
        {"NM": ("nm-01",), "BG": ("bg-01",), "CL": ("cl-01",)}, True),
    ("OUMVLP", True): _protocol("OUMVLP", ["01"], {"NM": ("00",)}, True),
})

#: Accepted dataset names, compared after dropping case and punctuation, -> canonical name.
#: SynthGait has CASIA-B's structure and is evaluated with its protocol.
DATASET_ALIASES: Mapping[str, str] = MappingProxyType({
    "CASIAB": "CASIA-B", "OUMVLP": "OUMVLP", "SYNTHGAIT": "CASIA-B",
})


#: the names the "did you mean" of an unknown dataset chooses from
PROTOCOL_NAMES = ("CASIA-B", "OUMVLP", "SynthGait")


def _alias_key(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", str(name).upper())


def get_protocol(dataset_name: str, cross_view_gallery: bool = False) -> Protocol:
    """The protocol of ``dataset_name`` (OpenGait's spellings: ``'CASIA-B'``, ``'OUMVLP'``).

    Case and punctuation are ignored (``'casia_b'``, ``'OU-MVLP'`` work); ``'SynthGait'`` maps to CASIA-B.

    Raises:
        ValueError: for an unknown dataset, naming the supported ones and the closest match.

    Example:
        >>> get_protocol('CASIA-B').conditions['CL']
        ('cl-01', 'cl-02')
        >>> get_protocol('OU-MVLP').gallery_types
        ('01',)
    """
    canonical = DATASET_ALIASES.get(_alias_key(dataset_name))
    if canonical is None:
        raise ValueError(
            f"no evaluation protocol for dataset {dataset_name!r}{did_you_mean(dataset_name, PROTOCOL_NAMES)}: "
            "supported are 'CASIA-B' and 'OUMVLP' ('SynthGait' uses CASIA-B's)")
    return PROTOCOLS[(canonical, bool(cross_view_gallery))]


def _view_key(view: str) -> tuple:
    """Numeric views ('18', '090') sort by angle; any other name sorts after them, by text."""
    try:
        return (0, float(view), view)
    except ValueError:
        return (1, 0.0, view)


def sorted_views(views: Sequence[str]) -> list[str]:
    """The distinct views, by angle when they are numbers (so '18' comes before '108').

    Example:
        >>> sorted_views(['90', '180', '18', '90'])
        ['18', '90', '180']
    """
    return sorted({str(v) for v in views}, key=_view_key)


def _join(types: Sequence[str]) -> str:
    return "/".join(types)


def check_test_set(dataset_name: str, types: Sequence[str], views: Sequence[str],
                   cross_view_gallery: bool = False) -> Protocol:
    """Fail early when a test set cannot be evaluated with its dataset's protocol.

    Args:
        dataset_name: as for :func:`get_protocol`.
        types: the sequence type of every test sequence (e.g. ``'nm-05'``), in any order.
        views: the view of every test sequence, aligned with ``types``.
        cross_view_gallery: check the cross-view-gallery protocol instead of the standard one.

    Returns:
        The protocol that applies.

    Raises:
        ValueError: naming what is missing: the gallery types, each probe condition without
            sequences, or (standard protocol) a second view, without which every probe view only has
            the identical-view gallery that the reported figures exclude.

    Example:
        >>> check_test_set('CASIA-B', ['nm-01', 'nm-05', 'bg-01'], ['000', '090', '090'])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: CASIA-B test set has no probe sequences of type cl-01/cl-02 (condition CL); ...
    """
    protocol = get_protocol(dataset_name, cross_view_gallery)
    types = [str(t) for t in types]
    if len(types) != len(views):
        raise ValueError(f"check_test_set: {len(types)} types but {len(views)} views; "
                         "they must describe the same sequences")
    present = set(types)
    problems = []
    if not present.intersection(protocol.gallery_types):
        problems.append(f"no gallery sequences of type {_join(protocol.gallery_types)}")
    problems += [f"no probe sequences of type {_join(cond_types)} (condition {name})"
                 for name, cond_types in protocol.conditions.items() if not present.intersection(cond_types)]
    if problems:
        found = ", ".join(sorted(present)[:20]) or "none"
        raise ValueError(f"{protocol.dataset} test set has {'; '.join(problems)}; it has types {found}")
    if not cross_view_gallery:
        used = set(protocol.gallery_types + protocol.probe_types)
        used_views = sorted_views([v for t, v in zip(types, views) if t in used])
        if len(used_views) < 2:
            raise ValueError(
                f"{protocol.dataset} test set has gallery and probe sequences at a single view "
                f"({', '.join(used_views)}); the protocol excludes identical-view pairs, so it needs two views")
    return protocol
