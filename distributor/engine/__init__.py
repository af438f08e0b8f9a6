"""The engine: the jobs that move articles through the ledger to the channels, run in one
process on APScheduler (embedded) or by workers on procrastinate (distributed)."""
