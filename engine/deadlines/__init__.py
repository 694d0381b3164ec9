"""Time limits in working days: the holiday calendar, promised dates and their state."""
