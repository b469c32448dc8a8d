"""Report building blocks: language, tables, tiles, HTML rendering and the run index."""
