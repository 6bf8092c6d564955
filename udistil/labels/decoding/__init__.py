"""One decoding engine for the teacher's pseudo-labels, the proxy's transcripts and every evaluation.

A `Transcriber` schedules batches (length-sorted, read ahead, resumable, timed) through the decoder of the
model's family, chosen by `load_decoder`: Whisper (`whisper`: forced language and task, cached encoder states,
long-form decoding), other sequence-to-sequence models such as SeamlessM4T (`seq2seq`), and CTC models such as
MMS with their language adapters (`ctc`). The generating families share beams, a token bound, the repetition
guard and, with `with_stats`, the token statistics of the same pass (`stats`).
"""

from udistil.labels.decoding.base import DecodeOptions, Decoder, Hypothesis
from udistil.labels.decoding.factory import load_decoder
from udistil.labels.decoding.transcriber import Transcriber
from udistil.labels.decoding.whisper import WINDOW_SAMPLES, WhisperDecoder

__all__ = ["WINDOW_SAMPLES", "DecodeOptions", "Decoder", "Hypothesis", "Transcriber", "WhisperDecoder",
           "load_decoder"]
