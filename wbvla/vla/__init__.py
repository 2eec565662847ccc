"""Stages II and III of WholeBodyVLA: the VLA that predicts latent actions and its execution decoder.

The policy contract it implements (numpy only) lives below it, in
:mod:`wbvla.control.policy_contract`, so the tasks, locomotion and runtime never import ``vla/``.
"""
