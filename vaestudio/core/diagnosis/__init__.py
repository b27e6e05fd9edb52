"""Why a model is what it is: posterior-collapse alarm, traversal sheet, worst reconstructions, latent
quality. Each answer is a plain function of (a snapshot's weights, some images); Qt-free, TensorFlow only
where a classifier is trained (latent_quality)."""
