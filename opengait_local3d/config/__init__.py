"""Configs in OpenGait's schema, below either host: what both the engine and the OpenGait plugin read of them.

* :mod:`.sections`: the keys of the plain sections, with the values each allows.
* :mod:`.validation`: the checks both hosts share (types, ``model_cfg``, optimizer, partition), one report.
* :mod:`.paths`: the output folder of a run, config paths resolved.
* :mod:`.partition`: the ids of a partition JSON.
* :mod:`.registries`, :mod:`.optimizers`: config entries by name, OpenGait's keys tolerated; torch's optimizers
  and schedulers.
* :mod:`.warm_start`: a warm start's checkpoint that no run has made yet, named with the command that makes it.
* :mod:`.opengait_keys` and ``opengait_names.json``: generated data, what OpenGait's configs use and define at the
  pinned commit (recorded once, in the json).

Imports torch, :mod:`opengait_local3d.modeling` and :mod:`opengait_local3d.utils` only, so OpenGait's process,
which runs the shared checks, does not load the engine.
"""
