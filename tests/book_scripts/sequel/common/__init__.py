raise ImportError("the clone's own module was imported instead of layerwise's")
