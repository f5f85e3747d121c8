"""Configs in OpenGait's schema.

* :mod:`.loading`: read a yaml file, merge it over ``configs/default.yaml``, check its keys.
* :mod:`.schema`: which keys exist (the engine's and those OpenGait's configs use).
* :mod:`.paths`: the output folder of a run, config paths resolved.
* :mod:`.opengait_keys`: generated data, the keys of OpenGait's configs at the pinned commit.

The submodules are imported by name (this package imports nothing) so that the data modules can use
:mod:`.paths` while :mod:`.schema` uses their registries.
"""
