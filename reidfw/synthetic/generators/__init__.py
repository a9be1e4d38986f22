"""The four data set generators; each writes the on-disk format real data uses."""
