"""Contract terms as data: parties, payer shares, funding instruments, KPIs, payment tranches.

Design: a contract is drafted as YAML, validated into typed pydantic models that report every
problem at once with its field path, and executed by ``settlement``; no payment rule is
hard-coded. Pure modules import only ``ledger`` value types; loading into the database lives in
``contracts.store``.
"""
