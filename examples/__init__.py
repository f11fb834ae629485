"""Example scripts and generators that use the bundled starter kit."""
