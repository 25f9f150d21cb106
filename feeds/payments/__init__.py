"""Payment experience reported by policyholders, invoice level (CSV or Parquet).

``parse`` validates rows (pure), ``store`` keeps the accepted invoices as Parquet (the payment
history), ``aggregate`` computes per-buyer behaviour at a business date (pure, polars) and
``load`` ties them to the database: ``ingest`` a file, ``refresh_aggregates`` for a date."""
