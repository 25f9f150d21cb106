"""OECD country risk classification, effective-dated (``country_grade``)."""
