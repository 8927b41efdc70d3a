"""Reading products: the only place that opens files through rasterio/GDAL."""
