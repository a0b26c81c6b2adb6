"""The web app's Flask factory and its pages."""
