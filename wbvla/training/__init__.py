"""What LAM and VLA training share (layer 1: below ``data``, ``lam`` and ``vla``, importing only the
foundation), so the two trainers cannot drift apart:

* :mod:`~wbvla.training.devices`: the device names every training config accepts and the one
  mapping to Lightning's accelerator and torch's device (light: configs import it);
* :mod:`~wbvla.training.harness`: one resumable Lightning fit (resume from ``last.ckpt``, refuse to
  resume a run with another recipe, ``torch.set_num_threads`` from the config, training log);
* :mod:`~wbvla.training.checkpointing`: atomic checkpoint writes and a ``last.ckpt`` mid-run.

The LMO's PPO (rsl-rl, not Lightning) uses the same device names (:mod:`wbvla.lmo.train`).
"""
