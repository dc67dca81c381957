"""The one-time setup token that guards the creation of the first admin.

It lives in this module (one per server process), not in a Streamlit cache: any browser, signed
in or not, can ask the server to clear the caches (Streamlit's `clear_cache` message), and a
token kept there would be remade on every such request, so the operator's token would never work.
`python -m ui.serve` (what `run.sh` starts) makes it before the server starts and prints it, as
Jupyter does; a plain `streamlit run app.py` makes it on the first page that asks for it.
"""

from __future__ import annotations

import os
import secrets
import threading

SETUP_TOKEN_ENV = "PA_SETUP_TOKEN"
_lock = threading.Lock()
_token: str | None = None


def banner(token: str) -> str:
    return ("\n" + "=" * 72 + "\n  No accounts yet. To create the first admin in the browser, use "
            f"this\n  one-time setup token:\n\n      {token}\n" + "=" * 72 + "\n")


def setup_token() -> str:
    """This process's token: the operator's (`PA_SETUP_TOKEN`) or one made once and printed."""
    global _token
    chosen = os.environ.get(SETUP_TOKEN_ENV)
    if chosen:
        return chosen
    with _lock:
        if _token is None:
            _token = secrets.token_urlsafe(24)
            print(banner(_token), flush=True)
        return _token
