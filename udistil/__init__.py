"""uDistil-Whisper pipeline library."""
