"""Data: on-disk formats, the synthetic renderer, transforms, data sets and samplers."""
