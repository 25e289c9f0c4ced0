"""Fake network servers for tests: real HTTP on the loopback, no internet."""
