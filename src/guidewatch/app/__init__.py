"""The service layer: crawl, digest, review, check, compare, daemon; called by the CLI, daemon and workers."""
