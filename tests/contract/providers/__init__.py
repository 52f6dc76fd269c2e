"""One module per provider case, each defining ``CASE`` (a ``contract.case.ProviderCase``).
Modules whose name starts with ``_`` hold what several cases share."""
