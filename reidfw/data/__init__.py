"""Data: on-disk formats, torch data sets and samplers, and training augmentation."""
