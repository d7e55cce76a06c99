"""Next-best-action engine, HTTP API and batch scoring."""
