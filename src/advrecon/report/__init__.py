"""advrecon.report."""
