"""Channel adapters: one small class per platform (see ``base.py``)."""
