"""Small shared utilities, imported by every layer above :mod:`opengait_local3d.local3d`.

* :mod:`.suggestions`: the "did you mean" hint of error messages.
* :mod:`.checks`: argument checks that raise one clear error naming the argument.
* :mod:`.registry`: named factories built from config entries, their keys checked by signature.
* :mod:`.atomic`: atomic file writes.
* :mod:`.parallel`: process pools with a progress bar.
* :mod:`.allocator`: CPU memory reuse between training steps (glibc).
"""
