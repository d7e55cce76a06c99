"""The HTTP API for CRM front ends (FastAPI, versioned under /v1)."""
