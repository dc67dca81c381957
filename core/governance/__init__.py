"""Who may act: the acting account and its role (`actors`), accounts and sign-in (`accounts`),
the policy store, where the policy changes (`policy_store`), dashboard sessions (`web_sessions`)
and API tokens (`api_tokens`). May import `core.base`, `core.record` and `core.allocation`."""
