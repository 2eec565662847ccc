"""The one training harness of LAM and VLA training: resume, the same-run check, device names, threads."""

from __future__ import annotations

import json

import pytest
import torch

from wbvla.training.devices import DEVICES, Device, check_device, resolve_device, set_threads
from wbvla.training.harness import L, check_same_run, fit_resumable, summarize, train_log


class Toy(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Linear(2, 1)

    def training_step(self, batch, i):
        return self.w(batch["x"]).pow(2).mean()

    def validation_step(self, batch, i):
        pass

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Crash(L.Callback):
    def on_train_batch_start(self, trainer, module, batch, i):
        if trainer.global_step == 5:
            raise KeyboardInterrupt  # like a killed job (Lightning re-raises it after teardown)


def _loader():
    items = [{"x": torch.randn(2), "instruction": "a"} for _ in range(8)]
    return torch.utils.data.DataLoader(items, batch_size=4)  # 2 steps per epoch: validate + checkpoint every 2


def test_an_interrupted_fit_resumes_from_the_last_validation(tmp_path):
    loader = _loader()
    args = dict(run=tmp_path / "run", max_steps=8, device="cpu", progress=False, resume=True, config={"lr": 0.1})
    with pytest.raises((KeyboardInterrupt, SystemExit)):
        fit_resumable(Toy(), loader, loader, callbacks=[Crash()], **args)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert last.exists()  # written after the validation at step 4, before the crash
    assert torch.load(last, weights_only=False)["global_step"] == 4
    assert json.loads((tmp_path / "run" / "train_config.json").read_text()) == {"lr": 0.1}
    res = fit_resumable(Toy(), loader, loader, **args)
    assert res.steps == 8 and res.steps_this_call == 4 and res.device == "cpu"
    assert [c["steps"] for c in train_log(tmp_path / "run")] == [4]  # the interrupted call logged nothing
    assert summarize(tmp_path / "run")["steps"] == 4
    again = fit_resumable(Toy(), loader, loader, **args)  # finished: nothing to do
    assert again.steps == 8 and again.steps_this_call == 0
    with pytest.raises(ValueError, match=r"lr: 0\.1 -> 0\.2"):  # another recipe is refused before any step
        fit_resumable(Toy(), loader, loader, **{**args, "max_steps": 10, "config": {"lr": 0.2}})
    assert torch.load(last, weights_only=False)["global_step"] == 8
    fresh = fit_resumable(Toy(), loader, loader, **{**args, "resume": False, "config": {"lr": 0.2}})
    assert fresh.steps_this_call == 8  # resume=False starts over and does not check


def test_the_same_run_check_names_what_differs(tmp_path):
    stored = {"lr": 0.1, "max_steps": 100, "threads": 1, "model": {"width": 64, "layers": 2}, "output_dir": "/a"}
    (tmp_path / "train_config.json").write_text(json.dumps(stored))
    # how long, where and on what it runs may change
    check_same_run(tmp_path, {**stored, "max_steps": 500, "threads": 2, "device": "gpu", "output_dir": "/b"})
    with pytest.raises(ValueError) as err:
        check_same_run(tmp_path, {**stored, "lr": 0.2, "model": {"width": 32, "layers": 2}})
    assert str(tmp_path / "train_config.json") in str(err.value)
    assert "lr: 0.1 -> 0.2" in str(err.value) and "model.width: 64 -> 32" in str(err.value)
    assert "layers" not in str(err.value)
    # a field added to the config since the run started passes at its default, not otherwise
    new = {**stored, "model": {"width": 64, "layers": 2, "dropout": 0.0}}
    with pytest.raises(ValueError, match=r"model\.dropout: '<absent>' -> 0\.0"):
        check_same_run(tmp_path, new)
    check_same_run(tmp_path, new, defaults={"model": {"dropout": 0.0}})
    with pytest.raises(ValueError, match=r"model\.dropout: '<absent>' -> 0\.5"):
        check_same_run(tmp_path, {**stored, "model": {"width": 64, "layers": 2, "dropout": 0.5}},
                       defaults={"model": {"dropout": 0.0}})
    check_same_run(tmp_path / "nothing_here", {"lr": 5})  # no run yet: nothing to compare


def test_one_device_mapping_for_every_trainer(monkeypatch):
    assert resolve_device("cpu") == Device("cpu", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == Device("cpu", "cpu")
    for name in ("gpu", "cuda"):  # Lightning's name and torch's / mjlab's name are the same device
        with pytest.raises(ValueError, match=f"device='{name}' but torch sees no CUDA device"):
            resolve_device(name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == resolve_device("gpu") == resolve_device("cuda") == Device("gpu", "cuda:0")
    with pytest.raises(ValueError, match="device must be one of .*'tpu'"):
        check_device("tpu")
    assert DEVICES == ("auto", "cpu", "gpu", "cuda")


def test_configs_take_the_device_names_and_threads_default_to_one():
    from wbvla.lam.config import LAMTrainConfig
    from wbvla.lmo.job_config import TrainConfig
    from wbvla.vla.config import PretrainConfig

    for cls in (LAMTrainConfig, PretrainConfig, TrainConfig):
        assert cls().threads == 1
        for name in DEVICES:
            assert cls(device=name).device == name
        with pytest.raises(ValueError, match="device"):
            cls(device="tpu")


def test_set_threads():
    before = torch.get_num_threads()
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
        set_threads(None)  # leaves torch's setting
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="threads"):
            set_threads(0)
    finally:
        torch.set_num_threads(before)


def test_a_fit_logs_no_cloud_logger_tip_or_weights_only_notice(tmp_path, caplog):
    """Lightning's advertisement for its cloud logger is filtered (wbvla.compat.LIGHTNING_NOTICES) and the
    checkpoints say weights_only=False, so neither line reaches a user's terminal; other info lines stay."""
    import logging

    import lightning_utilities.core.rank_zero as rank_zero

    loader = _loader()
    with caplog.at_level(logging.INFO):
        fit_resumable(Toy(), loader, loader, run=tmp_path / "run", max_steps=2, device="cpu", progress=False,
                      resume=True, config={})
        rank_zero.rank_zero_info("a line Lightning keeps")
    text = caplog.text
    assert "litlogger" not in text and "weights_only" not in text
    assert "a line Lightning keeps" in text
