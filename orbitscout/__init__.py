"""orbitscout: find landed spacecraft, their landing hardware and new surface changes in
orbital images of Mars and the Moon, and plan the orbital looks that can see them."""

__version__ = "0.1.0"
