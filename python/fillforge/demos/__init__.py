"""Runnable demonstrations on the data the package ships."""
