"""Image transforms (albumentations) ending in the paper's letterbox resize."""
