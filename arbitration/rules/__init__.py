"""Rule sets as data: schema, loader, variable registry and operators."""

from arbitration.rules.loader import RuleSet, RuleSetError, load_rule_set, value_at
from arbitration.rules.operators import OPERATORS
from arbitration.rules.variables import VARIABLES

__all__ = ["OPERATORS", "VARIABLES", "RuleSet", "RuleSetError", "load_rule_set", "value_at"]
