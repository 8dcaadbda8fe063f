"""Contract terms as data: parties, payer shares, funding instruments, KPIs, payment tranches.

Design: a contract is drafted as YAML, validated into typed pydantic models that report every
problem at once with its field path, and executed by ``settlement``; no payment rule is
hard-coded. Pure modules import only ``ledger`` value types; loading into the database lives in
``contracts.store``.

Where things are:

- ``model`` (with ``rules``, ``instruments``, ``values``): the frozen models. Amounts are int
  minor units in ``*_minor`` attributes, written in the currency in documents.
- ``validate``: ``validate_document`` / ``load_contract_file`` → ``(contract | None, problems)``;
  ``source`` reads YAML (the only file access), ``checks`` holds the cross-field rules.
- ``liability``: pure functions over a valid contract — payer weights, maxima per tranche and
  payer and per payer and year, the authorisation table (the checks use it).
- ``terms``: amendments, which run the checks on the amended contract; re-exports ``liability``
  so that callers read a contract's terms through one module.
- ``schema``: the published JSON Schema (``python -m contracts.schema`` regenerates it).
- ``examples``: four example contracts; their figures are illustrative.
"""
