"""The insurer's policy-administration extract: policyholders, policies, foreign buyers,
limits, pending limit requests and outstanding declarations, one file layout per entity."""
