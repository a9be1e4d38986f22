"""On-disk data formats shared by the synthetic generators and real data."""
