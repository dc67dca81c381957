"""Streamlit-only helpers: page setup and the sign-in guard, cached readers, figure builders.

Pages import from here; nothing in `core/` or `db/` imports this package.
"""
