"""The LMO: the loco-manipulation-oriented RL policy of WholeBodyVLA (paper §3.2, App. A.2, B.4).

Modules (heavy imports stay inside them; ``import wbvla.lmo`` is cheap):

* :mod:`~wbvla.lmo.config`: typed configs, the Table 4 reward table, Table 5 randomization;
* :mod:`~wbvla.lmo.commands`: u_t, Eq. 2 reference shaping, flag episodes and J_dir (Eq. 3);
* :mod:`~wbvla.lmo.rewards`: every Table 4 term, J_dir and the stand-still penalty (Eq. 4);
* :mod:`~wbvla.lmo.observations`, :mod:`~wbvla.lmo.actions`, :mod:`~wbvla.lmo.events`,
  :mod:`~wbvla.lmo.perturbations`: the rest of the mjlab task; :mod:`~wbvla.lmo.env_cfg` builds it;
* :mod:`~wbvla.lmo.train`, :mod:`~wbvla.lmo.export`, :mod:`~wbvla.lmo.policy`,
  :mod:`~wbvla.lmo.evaluation`: PPO training, ONNX export, deployment-side inference and the
  Table 3 evaluation in plain MuJoCo.
"""
