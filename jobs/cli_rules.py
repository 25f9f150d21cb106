"""CLI commands: rules (mounted by :mod:`jobs.cli`): check, simulate, explain."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from arbitration.explain import LimitNotFoundError, explain_limit
from arbitration.params import ParamsError
from arbitration.rules import RuleSetError, load_rule_set
from arbitration.whatif import simulate
from jobs.cli_support import EXIT_BAD_INPUT, EXIT_CONFIG, STATE, console, parse_date, register_error

rules_app = typer.Typer(
    help="Check, simulate and explain the arbitration rule sets (YAML files in config/rules/).",
    no_args_is_help=True,
)

register_error(RuleSetError, EXIT_BAD_INPUT)
register_error(LimitNotFoundError, EXIT_BAD_INPUT)
register_error(ParamsError, EXIT_CONFIG)


@rules_app.command("check")
def check(
    directory: Path | None = typer.Argument(
        None, help="Folder of *.yaml rule files (default: the active set, VIGIE_PATHS__RULES_DIR)."
    ),
) -> None:
    """Validate a rule set without running it: every error is printed as file:line: field:
    problem (unknown variables and operators included); exit 2 when any error is found."""
    folder = directory or STATE.settings.paths.rules_dir
    rule_set = load_rule_set(folder)
    console.print(
        f"{folder}: {len(rule_set.rules)} rules, {len(rule_set.desks)} desks, "
        f"default desk {rule_set.default_desk}, version {rule_set.version[:12]}"
    )


@rules_app.command("simulate")
def simulate_command(
    candidate: Path = typer.Option(..., "--candidate", help="Folder of the candidate rule set."),
    as_of: str = typer.Option(..., "--as-of", help="Business date YYYY-MM-DD of the portfolio to use."),
    as_json: bool = typer.Option(False, "--json", help="Print the impact as JSON (for scripts)."),
) -> None:
    """Run a candidate rule set against the current portfolio beside the active one, writing
    nothing: decisions per type, exposure removed by desk / country / grade, policyholders."""
    business_date = parse_date(as_of)
    with STATE.ready_sessions()() as session:
        impact = simulate(session, candidate_dir=candidate, as_of=business_date, settings=STATE.settings)
        session.rollback()
    if as_json:
        typer.echo(json.dumps(impact.as_dict(), indent=2, sort_keys=True))
        return
    data = impact.as_dict()
    console.print(f"what-if at {business_date} on {impact.limits} limits ({impact.limits_changed} change)")
    for side in ("active", "candidate"):
        version = data[f"{side}_version"][:12]
        console.print(f"[bold]{side}[/bold] {version}: decisions {data['decisions'][side]}")
        console.print(f"  policyholders affected: {data['policyholders_affected'][side]}")
        for axis, sums in data["exposure_removed_cents"][side].items():
            eur = {k: f"{v / 100:,.0f}" for k, v in sums.items()}
            console.print(f"  exposure removed by {axis} (EUR): {eur}")


@rules_app.command("explain")
def explain_command(
    limit_id: int = typer.Argument(..., help="Id of the credit limit."),
    as_of: str = typer.Option(..., "--as-of", help="Business date YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print the full trace as JSON."),
) -> None:
    """Explain, rule by rule, what the engine proposes for one limit (the arbiter's view)."""
    with STATE.ready_sessions()() as session:
        explanation = explain_limit(
            session, limit_id=limit_id, as_of=parse_date(as_of), settings=STATE.settings
        )
        session.rollback()
    if as_json:
        typer.echo(json.dumps(explanation.as_dict(), indent=2, default=str))
    else:
        console.print(explanation.text(), markup=False)


def register(app: typer.Typer) -> None:
    """Mount this module's commands on the main app."""
    app.add_typer(rules_app, name="rules")
