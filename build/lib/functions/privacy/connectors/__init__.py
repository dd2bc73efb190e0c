"""One connector module per store kind, all behind the Connector protocol in base.py."""
