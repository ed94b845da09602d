"""advrecon.models."""
