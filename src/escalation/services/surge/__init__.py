"""Surge service: counts distinct customers per product and opens one incident for many."""
