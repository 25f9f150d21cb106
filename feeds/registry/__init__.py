"""INSEE Sirene ``StockUniteLegale``: French legal units become buyers (``buyer_id`` = SIREN)."""
