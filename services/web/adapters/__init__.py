"""HTTP clients of the three APIs: one small module per API, so each is easy to adapt."""
