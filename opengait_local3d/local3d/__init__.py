"""The 3D local operation (Huang et al., ICCV 2021, Sec. 3), framework-free: torch only.

Public API:

* :class:`Local3DBlock` wraps any block ``[n, c_in, T, H, W] -> [n, c_out, T, H', W']`` with local
  paths (localization, sampling, feature extraction, fusion); :class:`FrameWise` turns a 2D block into
  such a block.
* Part priors: :data:`PART_NAMES`, :class:`PartPrior`, :data:`DEFAULT_PRIORS`, :func:`resolve_priors`.
* The functional core: :func:`grid_centres`, :func:`gaussian_filterbank`, :func:`linear_filterbank`
  (Eqs. 4-9), :func:`sample_volume` (Eq. 10) and :func:`sample_groups` (groups of parts of their own sizes,
  :class:`PartGroup`), :func:`write_volume` (DRAW's write) and :func:`write_summed` (parts of different sizes
  written and summed).
* Where the parts are: :func:`part_statistics`, :class:`PartMonitor`.
* :class:`Localization` and its :class:`PartParameters`, within :class:`LocalizationBounds`;
  :func:`parameter_groups` gives optimizers the localization's learning-rate factor.
"""
from .block import FrameWise, Local3DBlock
from .bounds import LocalizationBounds
from .diagnostics import STATISTICS, PartMonitor, PartRow, named_local_blocks, part_statistics
from .extraction import FeatureExtraction
from .filterbanks import gaussian_filterbank, grid_centres, linear_filterbank
from .fusion import Fusion
from .localization import Localization, PartParameters, smooth_centres
from .alignment import ALIGNMENTS
from .param_groups import parameter_groups
from .parts import DEFAULT_PRIORS, PART_NAMES, PartPrior, resolve_priors
from .sampling import MODES, PartGroup, sample_groups, sample_volume
from .writing import write_summed, write_volume

__all__ = [
    "ALIGNMENTS",
    "DEFAULT_PRIORS",
    "FeatureExtraction",
    "FrameWise",
    "Fusion",
    "Local3DBlock",
    "Localization",
    "LocalizationBounds",
    "MODES",
    "PART_NAMES",
    "PartMonitor",
    "PartGroup",
    "PartParameters",
    "PartPrior",
    "PartRow",
    "STATISTICS",
    "gaussian_filterbank",
    "grid_centres",
    "linear_filterbank",
    "named_local_blocks",
    "parameter_groups",
    "part_statistics",
    "resolve_priors",
    "sample_groups",
    "sample_volume",
    "smooth_centres",
    "write_summed",
    "write_volume",
]
