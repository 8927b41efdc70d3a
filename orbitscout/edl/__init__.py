"""Where jettisoned landing hardware falls: missions' EDL facts, the atmosphere, a Monte Carlo."""
