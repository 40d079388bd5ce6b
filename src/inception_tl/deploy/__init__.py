"""After training: the model as a timm / Hugging Face folder with its card, on the hub, and as int8 ONNX."""
