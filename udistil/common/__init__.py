"""Shared helpers of every stage: atomic files and audio input, logging, errors, devices and determinism, text
normalisation, clips read in bounded windows."""
