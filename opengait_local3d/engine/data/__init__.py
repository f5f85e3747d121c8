"""Data: the pkl-layout dataset, samplers, the collate with OpenGait's sample types, and transforms."""
from .collate import Batch, CollateFn
from .dataset import GaitDataset, Sample, SampleKey, SequenceInfo, load_sequence
from .samplers import SAMPLERS, InferenceSampler, TripletSampler
from .transforms import ENGINE_ONLY_TRANSFORMS, TRANSFORMS, apply_to_sequence, check_transforms, get_transform

__all__ = ["Batch", "CollateFn", "GaitDataset", "Sample", "SampleKey", "SequenceInfo", "load_sequence",
           "SAMPLERS", "InferenceSampler", "TripletSampler", "ENGINE_ONLY_TRANSFORMS", "TRANSFORMS", "apply_to_sequence",
           "check_transforms", "get_transform"]
