"""trust write services (keyword-only, typed, with an explicit actor)."""
