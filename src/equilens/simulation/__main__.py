"""``python -m equilens.simulation OUT --n-per-class N ...``: the simulate command on its own."""

import argparse
import sys

from equilens.errors import InputError
from equilens.simulation.cli import add_simulate_arguments, run_simulate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m equilens.simulation", description=__doc__)
    add_simulate_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_simulate(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
