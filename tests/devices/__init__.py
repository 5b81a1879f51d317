"""Protocol-layer tests: the clients without Home Assistant."""
