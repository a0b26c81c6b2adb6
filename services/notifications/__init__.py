"""notifications: who must be told what, Italian templates, channels, delivery tracking."""
