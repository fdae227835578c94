"""Kasmina: slots in the host, the seed lifecycle, gates, blending and isolation."""
