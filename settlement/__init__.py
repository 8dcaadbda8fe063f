"""Settlement: audited KPI results → outcome payments → waterfall → repayments → year-end close.

Design: every figure is computed by a pure function that returns the amount and a trace (inputs,
rule, intermediate figures, rounding); services post the results through the ledger in one
unit of work owned by the caller.
"""
