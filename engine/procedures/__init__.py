"""Procedures: reading and checking a folder, deploying versions, the SpiffWorkflow glue, forms, diagram facts."""
