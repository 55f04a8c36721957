"""One adapter module per social platform, all behind the Publisher protocol in base.py."""
