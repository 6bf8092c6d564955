"""Models from the config: specs (packaged, hub, local, random), packaged weights and their conversion, and the
Whisper encoder-state cache shared by decoding and distillation."""
