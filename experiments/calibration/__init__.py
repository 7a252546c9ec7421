"""The calibration of ``kcover advise`` against realized ground truth, in parts.

The command that runs it is :mod:`kcover.experiments.calibrate`. Data flows cells (what a cell is,
read from the study drivers' results) -> scoring (each rule's verdicts and counts) -> tables (the
report, with pools: the per-pool scores, the reach ranking and the pilot's confidence, and regret:
what a verdict costs against the oracle).
"""
