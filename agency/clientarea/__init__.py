"""The client area: a client contact's own sign-in, to see what waits for their decision
and what they decided, for their own client only."""
