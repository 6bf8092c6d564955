"""Pseudo-labels: the teacher's transcripts with token statistics, and the decoding engine every model is run with."""
