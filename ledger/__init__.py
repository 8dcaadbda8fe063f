"""The double-entry ledger every other package posts through.

Design: books hold accounts; entries hold two or more postings (a positive debit or credit on
one account) that balance per currency. Entries are immutable and hash-chained per book; a
mistake is corrected by a reversal entry, a reservation by a pending entry that is later
resolved exactly once (posted in full, in part, or voided) by another entry. Balances are
maintained in the same database transaction as the postings, and can always be recomputed from
them (``verify``). This package imports nothing else of ours.
"""
