"""Gait data on disk, below the engine: OpenGait's pkl layout and silhouette normalisation, and SynthGait.

* :mod:`.silhouette`: one frame's normalisation (the facts of OpenGait's pretreatment) and the checked pkl
  reader and writer of ``<root>/<id>/<type>/<view>/<view>.pkl``.
* :mod:`.synthgait`: SynthGait, rendered walking silhouettes with CASIA-B's structure.
"""
