"""Embeds the texts `bench/vector_cache.py record`/`pack` wrote, on a GPU machine: one
float16 row per text, in order, normalised, in `vectors-NN.npy` files of at most 16 MiB.

    python3 bench/gpu_embed.py TEXTS.json.xz MODEL_DIR OUT_DIR [--batch 256]

Needs only numpy, torch and sentence-transformers (not docrag). MODEL_DIR is the float16
copy `bench/vector_cache.py half-model` writes (its model.safetensors may be xz'd to
travel); its weights are widened to float32 here, so the vectors differ from a CPU's float32
model's only by the weights' rounding."""

from __future__ import annotations

import argparse
import json
import lzma
import shutil
import tempfile
import time
from pathlib import Path

ROWS_PER_FILE = 21_000  # 21,000 x 384 x 2 bytes: 15.4 MiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("texts", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    texts: list[str] = json.loads(lzma.decompress(args.texts.read_bytes()))
    print(f"{len(texts)} texts read in {time.perf_counter() - started:.1f} s", flush=True)
    if args.device.startswith("cuda"):
        print(torch.cuda.get_device_name(0), flush=True)
    model_dir = args.model
    if (model_dir / "model.safetensors.xz").is_file():  # xz'd to travel: unpacked to /tmp
        model_dir = Path(tempfile.mkdtemp(prefix="model-"))
        shutil.copytree(args.model, model_dir, dirs_exist_ok=True)
        packed = model_dir / "model.safetensors.xz"
        (model_dir / "model.safetensors").write_bytes(lzma.decompress(packed.read_bytes()))
        packed.unlink()
    model = SentenceTransformer(str(model_dir), device=args.device)
    model.float()
    model.eval()
    print(f"model {args.model} max_seq_length {model.max_seq_length}", flush=True)
    started = time.perf_counter()
    with torch.inference_mode():
        vectors = model.encode(
            texts,
            batch_size=args.batch,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    seconds = time.perf_counter() - started
    print(f"embedded {vectors.shape} in {seconds:.1f} s ({len(texts) / seconds:.0f}/s)")
    norms = np.linalg.norm(vectors, axis=1)
    print(f"norms min {norms.min():.4f} max {norms.max():.4f}; finite {np.isfinite(vectors).all()}")
    args.out.mkdir(parents=True, exist_ok=True)
    half = vectors.astype(np.float16)
    for number, start in enumerate(range(0, len(half), ROWS_PER_FILE)):
        path = args.out / f"vectors-{number:02d}.npy"
        np.save(path, half[start : start + ROWS_PER_FILE])
        print(f"{path}: {path.stat().st_size} bytes", flush=True)


if __name__ == "__main__":
    main()
