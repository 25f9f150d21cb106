"""Key figures of filed accounts, one row per SIREN and fiscal year end (``feeds/LAYOUTS.md``)."""
