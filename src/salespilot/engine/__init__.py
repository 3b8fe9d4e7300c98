"""The engine: the one application object the faces use."""
