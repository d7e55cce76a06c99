"""The CRM data contract, the store, importers and the simulated CRM world."""
