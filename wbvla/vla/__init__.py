"""Stages II and III of WholeBodyVLA: the VLA that predicts latent actions and its execution decoder.

:mod:`~wbvla.vla.api` holds the policy API (numpy only) every runner calls.
"""
