"""torch Datasets over reidfw's on-disk formats, the P x K sampler and the LightningDataModule."""
