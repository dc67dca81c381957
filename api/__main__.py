"""`python -m api [--host H] [--port P] [--forwarded-allow-ips IPS]`: serve the API with uvicorn
(also API_HOST/API_PORT)."""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from api.app import create_app
from core.base.errors import DomainError
from core.database import connect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("API_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("API_PORT", "8000")))
    # The proxies whose X-Forwarded-For names the client (uvicorn's own default: 127.0.0.1, or
    # FORWARDED_ALLOW_IPS). Per-client limits (bad tokens, public votes) count that client, so
    # only a proxy named here can speak for another address.
    parser.add_argument("--forwarded-allow-ips", default=None, metavar="IPS",
                        help="comma-separated proxy addresses trusted for X-Forwarded-For")
    args = parser.parse_args(argv)
    try:
        db = connect()  # DATABASE_URL or the embedded SQLite, upgraded like the CLI and the app
    except DomainError as error:  # unreachable, no driver, a failed upgrade: nothing served
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    uvicorn.run(create_app(db), host=args.host, port=args.port, log_level="info",
                forwarded_allow_ips=args.forwarded_allow_ips)
    return 0


if __name__ == "__main__":
    sys.exit(main())
