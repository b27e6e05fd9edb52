"""The article's model, loss and training loop, kept as the article writes them, for comparison only.

Lines the article's listing lost are filled in from its text and the full architecture in
shared/README.md. vaestudio never imports this module; benchmarks/ does.
"""

import time

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp


class CVAE(tf.keras.Model):
    """Convolutional variational autoencoder."""

    def __init__(self, latent_dim):
        super(CVAE, self).__init__()
        self.latent_dim = latent_dim
        self.encoder = tf.keras.Sequential([
            tf.keras.layers.InputLayer(shape=(28, 28, 1)),
            tf.keras.layers.Conv2D(filters=32, kernel_size=3, strides=(2, 2), activation='relu'),
            tf.keras.layers.Conv2D(filters=64, kernel_size=3, strides=(2, 2), activation='relu'),
            tf.keras.layers.Flatten(),
            # No activation
            tf.keras.layers.Dense(latent_dim + latent_dim),
        ])
        self.decoder = tf.keras.Sequential([
            tf.keras.layers.InputLayer(shape=(latent_dim,)),
            tf.keras.layers.Dense(units=7 * 7 * 32, activation=tf.nn.relu),
            tf.keras.layers.Reshape(target_shape=(7, 7, 32)),
            tf.keras.layers.Conv2DTranspose(filters=64, kernel_size=3, strides=2, padding='same', activation='relu'),
            tf.keras.layers.Conv2DTranspose(filters=32, kernel_size=3, strides=2, padding='same', activation='relu'),
            # No activation
            tf.keras.layers.Conv2DTranspose(filters=1, kernel_size=3, strides=1, padding='same'),
        ])

    @tf.function
    def sample(self, z=None):
        if z is None:
            z = tf.random.normal(shape=(100, self.latent_dim))
        return self.decode(z, apply_sigmoid=True)

    def encode(self, x):
        mean, logvar = tf.split(self.encoder(x), num_or_size_splits=2, axis=1)
        return mean, logvar

    def reparameterize(self, mean, logvar):
        eps = tf.random.normal(shape=mean.shape)
        return eps * tf.exp(logvar * .5) + mean

    def decode(self, z, apply_sigmoid=False):
        logits = self.decoder(z)
        if apply_sigmoid:
            probs = tf.sigmoid(logits)
            return probs
        return logits


def log_normal_pdf(sample, mean, logvar, raxis=1):
    log2pi = tf.math.log(2. * np.pi)
    return tf.reduce_sum(
        -.5 * ((sample - mean) ** 2. * tf.exp(-logvar) + logvar + log2pi),
        axis=raxis)


def compute_loss(model, x):
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar)
    x_logit = model.decode(z)
    cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)
    logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
    logpz = log_normal_pdf(z, 0., 0.)
    logqz_x = log_normal_pdf(z, mean, logvar)
    return -tf.reduce_mean(logpx_z + logpz - logqz_x)


@tf.function
def train_step(model, x, optimizer):
    """Executes one training step and returns the loss."""
    with tf.GradientTape() as tape:
        loss = compute_loss(model, x)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))


def preprocess_images(images):
    images = images.reshape((images.shape[0], 28, 28, 1)) / 255.
    return np.where(images > .5, 1.0, 0.0).astype('float32')


def plot_latent_images(model, n, im_size=28, save_to=None):
    """The article's grid: one decoder call per point; with `save_to`, also its matplotlib figure saved
    as a PNG, as the article does for every snapshot."""
    image = np.zeros((im_size * n, im_size * n))
    norm = tfp.distributions.Normal(0, 1)
    grid_x = norm.quantile(np.linspace(0.05, 0.95, n))
    grid_y = norm.quantile(np.linspace(0.05, 0.95, n))
    for i, yi in enumerate(grid_x):
        for j, xi in enumerate(grid_y):
            z = np.array([[xi, yi]])
            x_decoded = model.sample(z)
            digit = tf.reshape(x_decoded[0], (im_size, im_size))
            image[i * im_size: (i + 1) * im_size, j * im_size: (j + 1) * im_size] = digit.numpy()
    if save_to is not None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.figure(figsize=(10, 10))
        plt.imshow(image, cmap='Greys_r')
        plt.axis('Off')
        plt.savefig(save_to)
        plt.close()
    return image


def training(train_images, test_images, epochs=10, batch_size=32, latent_dim=2, seed=0, report_every=200):
    """The article's loop (snapshots left out), as a generator so a benchmark can interleave it with
    another trainer. Yields ("steps", images, seconds) every `report_every` steps and for the rest of each
    epoch, and ("epoch", epoch, test_elbo, train_seconds) after each epoch; the model is in the last
    ("done", model). Seconds count only time spent inside this generator, training (not the test pass),
    so a benchmark may run other work between the yields."""
    tf.keras.utils.set_random_seed(seed)
    train_images, test_images = preprocess_images(train_images), preprocess_images(test_images)
    train_dataset = (tf.data.Dataset.from_tensor_slices(train_images)
                     .shuffle(train_images.shape[0]).batch(batch_size))
    test_dataset = (tf.data.Dataset.from_tensor_slices(test_images)
                    .shuffle(test_images.shape[0]).batch(batch_size))
    model = CVAE(latent_dim)
    optimizer = tf.keras.optimizers.Adam(1e-4)
    step = tf.function(train_step.python_function)  # a fresh trace per model
    for epoch in range(1, epochs + 1):
        epoch_seconds = 0.0
        window_start, images = time.perf_counter(), 0
        for idx, train_x in enumerate(train_dataset):
            step(model, train_x, optimizer)
            images += int(train_x.shape[0])
            if (idx + 1) % report_every == 0:
                seconds = time.perf_counter() - window_start
                epoch_seconds += seconds
                yield ("steps", images, seconds)
                window_start, images = time.perf_counter(), 0
        if images:
            seconds = time.perf_counter() - window_start
            epoch_seconds += seconds
            yield ("steps", images, seconds)
        loss = tf.keras.metrics.Mean()
        for test_x in test_dataset:
            loss(compute_loss(model, test_x))
        elbo = -loss.result()
        yield ("epoch", epoch, float(elbo), epoch_seconds)
    yield ("done", model)
