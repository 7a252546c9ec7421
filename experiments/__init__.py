"""Experiments built on kcover: encoders, and the vision and LLM studies of the paper.

Nothing here is imported by :mod:`kcover`; data flows one way, from these experiments into it.
Heavy dependencies (transformers, torch) are imported only by the modules that need them.
"""
