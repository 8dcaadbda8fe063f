"""The edge: settings, database wiring, migrations, the ``sib`` command line and the HTTP API.

Design: routes and commands are thin; they open one unit of work, call a service, and map domain
errors (``ledger.errors.SibError``) to exit codes or RFC 9457 problem responses.
"""
