"""Investors and statements: holders, capital accounts, distributions, withholding, documents.

Design: statement *data* is computed by pure functions from the ledger and settlement results;
rendering (reportlab PDFs, pandas exports) is a separate edge that never computes money.
"""
