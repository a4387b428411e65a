"""The tracker for a person at a screen: live tracking (`live`), and the
pieces of the web app (`python -m experiments.app`)."""
