"""Pieces of bench/publish.py: the throwaway database and Redis prefix, and the data."""
