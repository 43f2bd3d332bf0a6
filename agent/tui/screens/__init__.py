"""Modal screens pushed over the transcript: approvals, /diff, /status, pickers."""
