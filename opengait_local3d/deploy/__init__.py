"""Use a trained model on sequences of one's own, and ship it: galleries of known people (:mod:`.enrollment`,
:mod:`.gallery`), identification of probes (:mod:`.identification`) and export to TorchScript or ONNX
(:mod:`.export`). Above the engine: it embeds sequences exactly as the test phase does (:mod:`.embedding`)."""
