"""What a detection can be (design.md, "Words")."""

CLASSES = (
    "lander",  # the landed vehicle, rover or lander, often with a blast zone
    "parachute",
    "backshell",
    "heat_shield",
    "descent_stage",  # its crash site
    "new_crater",
    "unknown",  # a real change that is none of those: dust-devil track, frost, moved dust
)
HARDWARE = CLASSES[:5]
PIECES = HARDWARE[1:]  # what the vehicle jettisons on the way down (none on the Moon)
NATURAL = CLASSES[5:]  # new_crater, unknown
