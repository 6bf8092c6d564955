"""udistil.common.devices: the config's `device` and `precision` checked at job start, with the GPU mocked (this
machine has none)."""

import pytest
import torch

from tests.helpers import decode_options, train_config
from udistil.common.devices import pick_device, pick_dtype


@pytest.fixture
def gpu(monkeypatch):
    """A mocked GPU: `gpu(bf16=False)` makes it one without native bfloat16 (a V100)."""

    def make(bf16: bool, name: str = "Tesla V100-SXM2-32GB"):
        asked = []

        def supported(including_emulation: bool = True) -> bool:
            asked.append(including_emulation)
            return bf16

        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
        return asked

    return make


def test_bf16_on_a_gpu_without_it_names_the_config_key_and_the_gpu(gpu):
    asked = gpu(bf16=False)
    with pytest.raises(ValueError, match=r"config precision: bf16, but this GPU \(Tesla V100-SXM2-32GB\)"):
        pick_dtype("bf16", pick_device("cuda"))
    assert asked == [False]  # native support only: torch would emulate bf16 on a V100
    assert pick_dtype("fp16", torch.device("cuda")) == torch.float16  # what the error suggests works there
    assert pick_dtype("fp32", torch.device("cuda")) == torch.float32


def test_bf16_where_supported_and_on_a_cpu(gpu):
    gpu(bf16=True, name="NVIDIA H100 80GB HBM3")
    assert pick_dtype("bf16", pick_device("auto")) == torch.bfloat16
    assert pick_dtype("bf16", torch.device("cpu")) == torch.float32  # a CPU always runs fp32, unchecked


def test_distillation_and_decoding_stop_before_loading_anything(gpu, monkeypatch):
    """The check runs at job start: before the Accelerator (distillation) and before the model (decoding)."""
    import accelerate

    import udistil.distill.setup as setup
    import udistil.labels.decoding.transcriber as transcriber

    gpu(bf16=False)

    def never(*args, **kwargs):
        raise AssertionError("reached past the precision check")

    monkeypatch.setattr(setup, "PartialState", never)
    monkeypatch.setattr(accelerate, "Accelerator", never)
    monkeypatch.setattr(transcriber, "load_decoder", never)
    with pytest.raises(ValueError, match="config precision: bf16"):
        setup.make_accelerator(train_config(device="cuda", precision="bf16"))
    with pytest.raises(ValueError, match="config precision: bf16"):
        transcriber.Transcriber.load("/nonexistent", decode_options(), device="auto", precision="bf16", cache=None)
