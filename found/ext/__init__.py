"""Layers built on the `found` core.

Each layer is a key layout plus the functions that keep it consistent in one transaction.
"""
