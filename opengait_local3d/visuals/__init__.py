"""What the 3D local blocks of a network attend to, drawn (the paper's Fig. 4) and summarised for tensorboard.

* :mod:`.pictures`: part boxes, temporal windows, sampled volumes and fusion weights of one sequence (OpenCV);
  the ``visualize`` command and the engine's training (at each save) draw them.
* :mod:`.summary`: per-part localization scalars (and recorded volumes) a network adds to its
  ``visual_summary`` in training, in either host.

Recording is opt-in: a :class:`~opengait_local3d.local3d.Local3DBlock` copies its sampled volumes only
inside :func:`recording`, which the pictures switch on for their one forward.
"""
from .pictures import (PART_COLOURS, recording, render_part_visuals, tensorboard_images,
                       tensorboard_pictures, write_pictures)
from .summary import local_block_summary

__all__ = ["PART_COLOURS", "local_block_summary", "recording", "render_part_visuals",
           "tensorboard_images", "tensorboard_pictures", "write_pictures"]
