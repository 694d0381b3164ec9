"""Written documents of a case: issuing them with a number, the decision at the end of a case, rendering and PDF."""
