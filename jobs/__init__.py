"""RQ job entry points (thin): each builds what it needs and calls one service."""
