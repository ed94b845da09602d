"""advrecon.data."""
