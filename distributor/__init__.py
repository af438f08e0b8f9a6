"""distributor: a newsroom distribution bot."""

__version__ = "0.1.0"
