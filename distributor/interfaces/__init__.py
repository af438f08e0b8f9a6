"""The ways in: the command line and the web app (dashboard, subscriber pages, metrics)."""
