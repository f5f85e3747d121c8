"""Experiments on SynthGait, on a CPU in minutes: what ``opengait-local3d quickstart`` and ``compare`` run.

* :mod:`.quickstart`: the quick-start models and their configs, staged warm starts, training and testing runs that
  resume and reuse their work, and the quick start itself (data, Local3DCNN, its part pictures).
* :mod:`.compare`: every model once per seed, the comparison table and the learning curves.
"""
