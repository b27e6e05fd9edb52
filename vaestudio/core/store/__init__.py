"""A run's files on disk: run folder, metrics log, snapshots, checkpoint, images, atomic writes."""
