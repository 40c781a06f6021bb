"""The center itself: the fleet trust picture, metrics, reviews and systemic issues."""
