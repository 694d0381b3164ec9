"""What staff do to a task: claim and release, complete; the inboxes that list them."""
