"""Social networks: what each accepts (``rules``), and later one adapter per network."""
