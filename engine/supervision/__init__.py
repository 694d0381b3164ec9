"""电子监察: what the supervision desk counts and lists, over the deadlines of the supervisor's jurisdiction."""
