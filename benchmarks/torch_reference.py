"""The tutorial's CVAE in PyTorch, for training-throughput comparisons only (issue 22 item 6).

    /work/torchvenv/bin/python benchmarks/torch_reference.py --batch 64 --mode eager
    /work/torchvenv/bin/python benchmarks/torch_reference.py --batch 32,64,128 --mode compile
    /work/torchvenv/bin/python benchmarks/torch_reference.py --epochs 1      # trains and prints the test ELBO

Runs in its own virtualenv (PyTorch is not a dependency of vaestudio); needs only NumPy and torch, and
reads Fashion-MNIST through vaestudio.core.data (NumPy only). The model is the tutorial's layer for layer:
encoder Conv 1->32 and 32->64 (3x3, stride 2, no padding, ReLU), Dense 2304 -> 2 * latent; decoder Dense
latent -> 7*7*32 (ReLU), ConvTranspose 32->64 and 64->32 (3x3, stride 2, ReLU), ConvTranspose 32->1 (3x3,
stride 1); the same single-sample ELBO (Bernoulli pixels, Gaussian KL estimate) and Adam (lr 1e-4). Keras'
padding="same" on a stride-2 transposed convolution keeps output rows 0..2n-1 of the full 2n+1; PyTorch's
padding=1, output_padding=1 keeps rows 1..2n: one pixel apart, the same work. PyTorch's default weight
initialisation, not Keras' Glorot (no effect on speed).

Training keeps the binarized images as one uint8 tensor; each epoch is a permutation of it, each step a
gather of its batch: no input pipeline beyond that. `--mode compile` wraps the whole step (forward,
backward, Adam) in torch.compile; `--channels-last` stores activations as NHWC. For each batch size the
process warms up (compiling, if asked), then trains `--images` images and prints
`RATE batch=B images_per_second=R`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # vaestudio.core.data

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

LOG_2PI = math.log(2.0 * math.pi)


class TutorialCVAE(nn.Module):
    def __init__(self, latent_dim: int = 2):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 6 * 6, 2 * latent_dim))
        self.decoder_input = nn.Sequential(nn.Linear(latent_dim, 7 * 7 * 32), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(32, 64, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=1, padding=1))

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Per-image single-sample ELBO of binarized images x (N, 1, 28, 28) with noise eps (N, latent)."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        z = mean + eps * torch.exp(0.5 * logvar)
        hidden = self.decoder_input(z).view(-1, 7, 7, 32).permute(0, 3, 1, 2)  # Keras' Reshape is NHWC
        logits = self.decoder(hidden)
        log_px_z = -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=(1, 2, 3))
        log_pz = (-0.5 * (z * z + LOG_2PI)).sum(dim=1)
        log_qz_x = (-0.5 * ((z - mean) ** 2 * torch.exp(-logvar) + logvar + LOG_2PI)).sum(dim=1)
        return log_px_z + log_pz - log_qz_x


class Training:
    """The model, Adam and the training set in memory; `train(steps)` runs optimizer steps."""

    def __init__(self, images: np.ndarray, batch: int, mode: str, channels_last: bool, seed: int = 0):
        torch.manual_seed(seed)
        self.model = TutorialCVAE()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        self.images = torch.from_numpy((images > 127).astype(np.uint8)).unsqueeze(1)  # (N, 1, 28, 28)
        self.batch, self.memory_format = batch, torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.generator = torch.Generator().manual_seed(seed)
        self.order, self.position = torch.empty(0, dtype=torch.long), 0
        step = self._step
        self.step = torch.compile(step) if mode == "compile" else step

    def _step(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        elbo = self.model(x, eps)
        loss = -elbo.mean()
        loss.backward()
        self.optimizer.step()
        return elbo.sum().detach()

    def train(self, steps: int) -> int:
        images = 0
        for _ in range(steps):
            if self.position + self.batch > len(self.order):  # whole batches: one shape for the compiler
                self.order, self.position = torch.randperm(len(self.images), generator=self.generator), 0
            index = self.order[self.position:self.position + self.batch]
            self.position += self.batch
            x = self.images[index].float().contiguous(memory_format=self.memory_format)
            self.step(x, torch.randn(self.batch, self.model.latent_dim, generator=self.generator))
            images += self.batch
        return images

    @torch.no_grad()
    def test_elbo(self, test_images: np.ndarray) -> float:
        x = torch.from_numpy((test_images > 127).astype(np.float32)).unsqueeze(1)
        eps = torch.randn(len(x), self.model.latent_dim, generator=self.generator)
        return float(torch.cat([self.model(x[i:i + 1000], eps[i:i + 1000]) for i in range(0, len(x), 1000)]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", default="64", help="batch sizes, comma-separated")
    parser.add_argument("--mode", choices=("eager", "compile"), default="eager")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--images", type=int, default=8192, help="images timed per batch size")
    parser.add_argument("--warmup-steps", type=int, default=20)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: PyTorch's, one per core). "
                        "On a busy machine its OpenMP threads wait for each other: 2 threads ran x0.09 of 1")
    parser.add_argument("--epochs", type=int, default=0, help="train this many epochs at the first batch size "
                        "and print the test ELBO (a check that it learns like the tutorial)")
    args = parser.parse_args()
    from vaestudio.core.data import load_dataset

    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("fashion_mnist")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, load {os.getloadavg()[0]:.1f}", flush=True)
    for batch in (int(b) for b in args.batch.split(",")):
        training = Training(data.train_images, batch, args.mode, args.channels_last)
        started = time.perf_counter()
        training.train(args.warmup_steps)
        warmup = time.perf_counter() - started
        if args.epochs:
            steps = len(data.train_images) // batch
            for epoch in range(1, args.epochs + 1):
                started = time.perf_counter()
                training.train(steps)
                print(f"epoch {epoch}: test ELBO {training.test_elbo(data.test_images):.2f} "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)
            return
        steps = max(args.images // batch, 1)
        started = time.perf_counter()
        images = training.train(steps)
        rate = images / (time.perf_counter() - started)
        print(f"RATE batch={batch} images_per_second={rate:.1f} warmup_seconds={warmup:.1f}", flush=True)


if __name__ == "__main__":
    main()
