"""Staff: accounts and posts, where tasks are routed, and the one rule for each question of access."""
