"""The sentence encoder: exported once to ONNX, then encoding with onnxruntime."""
