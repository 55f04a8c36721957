"""crosspost: social-media dissemination scheduler for government e-portals."""

__version__ = "0.1.0"
