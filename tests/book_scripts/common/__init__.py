raise ImportError("the clone's own common package was imported instead of layerwise's")
