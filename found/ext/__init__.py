"""Layers built on the `found` core: each one a key layout plus the functions that keep it consistent."""
