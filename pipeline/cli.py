"""Command line: `python -m pipeline {audit,load,flag,report}`.

Exit codes: 0 a clean run (with findings or without), 2 unusable input or
configuration (one line on stderr names the file and the problem), 1 a fault of the
program or of the machine (out of disk or memory: one line on stderr says which).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipeline import logs, machine, progress, run
from pipeline.config import load_config
from pipeline.errors import UsageError, out_of_room
from pipeline.scope import Scope
from reports.pseudonym import KEY_VARIABLE, Pseudonymizer

EXIT_OK, EXIT_FAULT, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("ptaudit")
DEFAULT_DB = Path("ptaudit.duckdb")


def main(argv: list[str] | None = None) -> int:
    machine.without_huge_pages()
    args = _parser().parse_args(argv)
    logs.configure(quiet=args.quiet, as_json=args.log_json)
    progress.configure(quiet=args.quiet, as_json=args.log_json)
    stage = args.command
    try:
        config = load_config(args.config)
        # Checked before any work, so a missing key stops the run with nothing written.
        pseudonyms = Pseudonymizer.from_environment() if args.pseudonymize else None
        scope = _scope(args)
        if args.command in ("audit", "load"):
            stage = "load"
            run_id = run.load(args.claims, args.timelogs, args.db, config)
        else:
            run_id = args.run_id
        if args.command in ("audit", "flag"):
            stage = "flag"
            run_id = run.flag(args.db, config, run_id, scope)
        if args.command == "audit":
            stage = "report"
            run_id = run.report(args.db, args.out, config, run_id, pseudonyms)
        if args.command == "report":
            run_id = run.report(args.db, args.out, config, run_id, pseudonyms, scope)
    except UsageError as exc:
        progress.clear()
        _error(str(exc), EXIT_USAGE, as_json=args.log_json)
        return EXIT_USAGE
    except Exception as exc:
        # The machine's limits are no fault of the program: one line, not a traceback.
        room = out_of_room(exc)
        if room is None:
            raise
        progress.clear()
        _error(f"{stage}: {room}", EXIT_FAULT, as_json=args.log_json)
        return EXIT_FAULT
    finally:
        progress.clear()
    print(run_id)
    return EXIT_OK


def _scope(args: argparse.Namespace) -> Scope | None:
    """The scope asked for, checked before any work; None when none was asked for."""
    if args.since is None and not args.whole_store:
        return None
    return Scope.from_args(args.since, args.whole_store)


def _error(message: str, exit_code: int, *, as_json: bool) -> None:
    """One line on stderr: plain for a person (and cron's mail), JSON for a collector."""
    if as_json:
        log.error(message, extra=logs.fields(exit_code=exit_code))
    else:
        print(f"ptaudit: error: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    stages = {
        "audit": "load, flag and report in one go",
        "load": "ingest, validate and store the exports",
        "flag": "run the rules over the store",
        "report": "write the run's report and findings files",
    }
    for name, help_text in stages.items():
        command = commands.add_parser(name, help=help_text, description=help_text)
        if name in ("audit", "load"):
            command.add_argument("--claims", type=Path, nargs="+", required=True, metavar="FILE")
            command.add_argument("--timelogs", type=Path, nargs="+", required=True, metavar="FILE")
        else:
            command.add_argument("--run-id", help="the run to use (default: the latest)")
        if name != "load":
            scope = command.add_mutually_exclusive_group()
            scope.add_argument(
                "--since",
                metavar="YYYY-MM-DD",
                help="report the claims served on or after this date, across the whole store "
                "(default: the claims of the run's files)",
            )
            scope.add_argument(
                "--all",
                dest="whole_store",
                action="store_true",
                help="report every claim in the store",
            )
        else:
            command.set_defaults(since=None, whole_store=False)
        if name in ("audit", "report"):
            command.add_argument("--out", type=Path, required=True, metavar="DIR")
            command.add_argument(
                "--pseudonymize",
                action="store_true",
                help=f"patient ids in every output replaced by a keyed hash (key: ${KEY_VARIABLE})",
            )
        else:
            command.set_defaults(pseudonymize=False)
        command.add_argument("--db", type=Path, default=DEFAULT_DB, metavar="FILE")
        command.add_argument("--config", type=Path, metavar="FILE")
        command.add_argument("--quiet", action="store_true", help="log warnings only")
        command.add_argument(
            "--log-json", action="store_true", help="log lines as JSON objects (for collectors)"
        )
    return parser
