"""advrecon.experiments."""
