"""zoo_loggers: metrics writers on zoo's lifecycle hooks (JSONL always, TensorBoard when installed)."""
