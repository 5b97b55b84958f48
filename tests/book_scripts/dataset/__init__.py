raise ImportError("the clone's own dataset package was imported instead of layerwise's")
