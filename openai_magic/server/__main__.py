"""`python -m openai_magic.server`: the demo backend in the foreground (options as `openai-magic serve`)."""

from __future__ import annotations

import argparse
import sys

from .runner import add_serve_arguments, serve


def main(argv: list[str] | None = None) -> int:
    """Parse the serve options and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m openai_magic.server", description=__doc__)
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, args.api_key, args.pace)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
