"""What changed: registration, photometry, significance, regions, tiles, candidates, deblending."""
