"""The ledger: what was stored and what must still be sent. Articles as stored (ingest),
deliveries and their state machine, subscribers. Knows no platform."""
