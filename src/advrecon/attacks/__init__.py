"""advrecon.attacks."""
