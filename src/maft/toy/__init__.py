"""The embedded toy base model: a small Llama pretrained here on the arithmetic task."""
