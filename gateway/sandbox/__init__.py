"""A simulated Amazon trading partner for tests and the demo."""
