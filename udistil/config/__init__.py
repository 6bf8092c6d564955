"""The configuration: schema validation with defaults filled (`validate`) and its generated reference (`docs`)."""
