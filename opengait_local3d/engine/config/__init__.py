"""The engine's side of a config: reading and merging it, its keys, and its validation pass.

* :mod:`.loading`: read a yaml file, merge it over ``configs/default.yaml``, check its keys.
* :mod:`.schema`: which keys exist (the engine's and those OpenGait's configs use), and the typed entries' keys.
* :mod:`.validation`: the one validation pass of a phase: the checks both hosts share
  (:mod:`opengait_local3d.config.validation`) and those of the engine's own registries.

What the OpenGait plugin needs too (paths, OpenGait's key lists, the shared checks) is a layer below the engine,
:mod:`opengait_local3d.config`.
"""
