"""Planning in Home Assistant: the compute_schedule action's requests and schedule control."""
