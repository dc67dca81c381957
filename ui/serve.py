"""Start the dashboard: `python -m ui.serve [streamlit options]` (what `run.sh` runs).

Before the server starts, it opens the database (creating the schema) and, when there are no
accounts yet, makes the one-time setup token and prints it, so the operator has it at start
rather than when the first browser connects. Streamlit then runs in this same process, which
keeps the token in its environment for `ui.setup_token`.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from core.base.errors import DomainError
from core.database import connect
from core.governance.accounts import count_accounts
from settings import get_settings
from ui.setup_token import SETUP_TOKEN_ENV, banner

APP = Path(__file__).resolve().parents[1] / "app.py"


def main(argv: list[str]) -> int:
    try:
        db = connect(get_settings().database_url, seed=False)  # the page seeds, after the demo
        first_start = count_accounts(db) == 0
        db.engine.dispose()
    except (DomainError, Exception) as error:  # noqa: BLE001 - the page says it again, clearly
        print(f"warning: the database cannot be opened yet ({type(error).__name__}); "
              "the dashboard will say why.", file=sys.stderr)
        first_start = False
    if first_start:
        token = os.environ.get(SETUP_TOKEN_ENV) or secrets.token_urlsafe(24)
        os.environ[SETUP_TOKEN_ENV] = token
        print(banner(token), flush=True)
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *argv]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
