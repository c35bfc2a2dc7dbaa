"""Offline evaluation of retrieval, answering and escalation on SQuAD-format files.

``manage.py evaluate`` and ``manage.py calibrate`` are thin wrappers around
:func:`support.evaluation.runner.evaluation_run`; the figures are computed by the pure
functions of :mod:`support.evaluation.metrics` from per-question records.
"""
