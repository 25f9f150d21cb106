"""Feeds: one sub-package per source, each with a pure ``parse`` (raw rows -> validated
frame + rejected rows) and an I/O ``load`` (files -> idempotent upsert). ``feeds.common``
holds what every source shares: reading files safely, the reconciliation, quarantine and
the ingest ledger. See ``feeds/LAYOUTS.md`` for the file layouts."""
