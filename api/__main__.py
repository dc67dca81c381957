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


def forwarding(allow_ips: str | None) -> dict[str, object]:
    """uvicorn's proxy settings: forwarded headers are read only from the proxies named."""
    if not allow_ips:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": allow_ips}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("API_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("API_PORT", "8000")))
    # The proxies whose X-Forwarded-For names the client. Off by default (uvicorn's own default
    # trusts loopback, so a header rotated through a local proxy or tunnel made every request a
    # new client to the bad-token throttle). Per-client limits (bad tokens, public votes) count
    # the client, so only a proxy named here can speak for another address.
    parser.add_argument("--forwarded-allow-ips", default=None, metavar="IPS",
                        help="comma-separated addresses of the reverse proxies trusted to name "
                             "the client in X-Forwarded-For (default: none; trust no header)")
    args = parser.parse_args(argv)
    try:
        db = connect()  # DATABASE_URL or the embedded SQLite, upgraded like the CLI and the app
    except DomainError as error:  # unreachable, no driver, a failed upgrade: nothing served
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    uvicorn.run(create_app(db), host=args.host, port=args.port, log_level="info",
                **forwarding(args.forwarded_allow_ips))
    return 0


if __name__ == "__main__":
    sys.exit(main())
