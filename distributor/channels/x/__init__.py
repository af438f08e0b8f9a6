"""The X channel: a thread per article, posted through tweepy. Only this package knows X."""
