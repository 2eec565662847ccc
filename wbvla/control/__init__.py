"""The one closed loop and what it drives (layer 4: below ``locomotion``, ``tasks``, ``vla`` and
``runtime``, so none of them imports another to know what a policy is).

* :mod:`~wbvla.control.policy_contract`: the policy contract every runner calls (numpy only):
  :class:`~wbvla.control.policy_contract.Policy`, :class:`~wbvla.control.policy_contract.PolicyOutput`,
  :data:`~wbvla.control.policy_contract.CommandKind`, :func:`~wbvla.control.policy_contract.check_state`.
"""
