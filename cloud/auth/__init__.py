"""Who may do what: user accounts with roles, console sessions, API tokens, login throttling."""
