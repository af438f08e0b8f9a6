"""The email channel: digests and single articles mailed to subscribers (the fan-out over
SMTP). Only this package speaks SMTP, and in it only :mod:`.smtp` imports the SMTP library."""
