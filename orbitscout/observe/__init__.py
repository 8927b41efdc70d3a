"""When and how an orbiter can look: Mars time, orbits, cameras, imaging windows, relay passes."""
