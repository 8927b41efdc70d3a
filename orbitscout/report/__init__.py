"""Writing the outputs (GeoJSON, GeoPackage, PNG, HTML) from results handed in."""
