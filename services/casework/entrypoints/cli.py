"""casework's commands.

``python -m services.casework.entrypoints.cli repair-case-file-lists``: writes the list entries
(work queues, deadline scan) every stored case file should have and drops the stale ones
(``case_file_lists``); marks the unpublished versions as writes in progress, for the worker's
scan to finish.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from services.casework.bootstrap import bootstrap
from services.casework.config import load_settings
from shared.logs import configure_logging


def repair_case_file_lists() -> int:
    """Write the list entries every stored case file should have and drop the stale ones."""
    deps = bootstrap(load_settings())
    unfinished = deps.case_files.mark_unfinished_writes()
    case_files, dropped = deps.case_files.lists.repair(deps.clock())
    print(
        f"code di lavoro: voci verificate per {case_files} fascicoli, "
        f"{dropped} voci superate eliminate; {unfinished} scritture da completare"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m services.casework.entrypoints.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "repair-case-file-lists",
        help="riscrive le voci delle code di lavoro (per stato, assegnatario, percorso, …) "
        "e delle scadenze",
    )
    args = parser.parse_args(argv)
    configure_logging("casework", load_settings().log_level)
    if args.command == "repair-case-file-lists":
        return repair_case_file_lists()
    return 2


if __name__ == "__main__":
    sys.exit(main())
