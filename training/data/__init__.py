"""Data: samples and where they come from, splits, face crops cached once, augmentation and simulated attacks."""
