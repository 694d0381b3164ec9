"""A case from acceptance to completion: the locked transaction, intake, rows kept in step, timers, look-ups."""
