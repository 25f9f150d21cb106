"""Arbitration: dated rule sets evaluated over every limit at once, decisions, review and what-if."""
