"""Embedding speed: our Embedder vs. plain sentence-transformers, cold start, peak memory.

Run from the repository root (``make bench`` or directly)::

    python benchmarks/bench_embedding.py [--texts 200] [--repeats 5]

Both encoders run on the same converted model folder, the same texts, prompt, batch size and
thread count, interleaved in one process, so the ratio is meaningful on a noisy machine. Cold
start and first-ever conversion run in fresh subprocesses.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AMIF_MATCH_PROGRESS", "0")

SUBJECTS = [
    "Hankkeessa kehitetään",
    "Hanke vahvistaa",
    "Toiminnan tavoitteena on parantaa",
    "Yhteistyössä kunnan ja järjestöjen kanssa kehitetään",
    "Pilotoimme",
]
OBJECTS = [
    "kotoutumista tukevaa ohjausta ja neuvontaa",
    "vastaanottokeskusten henkilöstön osaamista",
    "kiintiöpakolaisten kuntaan muuton palveluja",
    "vapaaehtoisen paluun neuvontaa",
    "maahanmuuttajanaisten työllistymisen polkuja",
    "ilman huoltajaa tulleiden nuorten hyvinvointia",
    "oleskelulupaprosessien sujuvuutta",
    "ihmiskaupan uhrien tunnistamista",
]
CONTEXTS = [
    "kolmansien maiden kansalaisille Uudellamaalla",
    "haavoittuvassa asemassa oleville asiakkaille",
    "yhdessä oppilaitosten ja viranomaisten kanssa",
    "digitaalisia palveluja ja etäohjausta hyödyntäen",
    "osana hyvinvointialueen palveluja",
]
EXTRAS = [
    "Työntekijöille järjestetään koulutusta ja perehdytystä.",
    "Hankkeessa tuotetaan tietoa päätöksenteon tueksi.",
    "Kohderyhmä osallistuu toiminnan suunnitteluun.",
    "Toiminnasta viestitään laajasti alueen toimijoille.",
    "Tulokset juurrutetaan pysyviksi käytännöiksi hankkeen päätyttyä.",
]


def finnish_texts(n: int, words: int = 60, seed: int = 7) -> list[str]:
    """Deterministic ~60-word Finnish proposal-like texts."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        parts: list[str] = []
        while sum(len(p.split()) for p in parts) < words:
            parts.append(f"{rng.choice(SUBJECTS)} {rng.choice(OBJECTS)} {rng.choice(CONTEXTS)}.")
            parts.append(rng.choice(EXTRAS))
        texts.append(" ".join(" ".join(parts).split()[:words]))
    return texts


def _child(code: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


COLD_START = """
import json, resource, time
t0 = time.perf_counter()
from amif_match.embedding import get_embedder
e = get_embedder()
e.encode(["kotoutuminen"])
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

ENCODE_RSS = """
import json, resource, sys
sys.path.insert(0, "benchmarks")
from bench_embedding import finnish_texts
from amif_match.embedding import get_embedder
get_embedder().encode(finnish_texts({n}))
print(json.dumps({{"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-conversion", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/embedding.json")
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from amif_match.embedding import get_embedder
    from amif_match.embedding.model_cache import ensure_model

    texts = finnish_texts(args.texts)
    ours = get_embedder()
    folder = ensure_model()
    plain = SentenceTransformer(str(folder), device="cpu")
    ours.encode(texts[:8])
    plain.encode(texts[:8], prompt_name="query")

    ours_s: list[float] = []
    plain_s: list[float] = []
    for _ in range(args.repeats):  # interleaved so drift hits both alike
        t = time.perf_counter()
        ours.encode(texts, show_progress_bar=False)
        ours_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        plain.encode(
            texts,
            prompt_name="query",
            batch_size=32,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        plain_s.append(time.perf_counter() - t)
    med_ours, med_plain = statistics.median(ours_s), statistics.median(plain_s)

    env = dict(os.environ)
    cold = _child(COLD_START, env)
    rss = _child(ENCODE_RSS.format(n=args.texts), env)
    conversion = None
    if not args.skip_conversion:
        with tempfile.TemporaryDirectory() as tmp:
            conversion = _child(COLD_START, {**env, "AMIF_MATCH_CACHE": tmp})

    result = {
        "texts": args.texts,
        "words_per_text": 60,
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "ours_median_s": med_ours,
        "plain_median_s": med_plain,
        "ours_texts_per_s": args.texts / med_ours,
        "plain_texts_per_s": args.texts / med_plain,
        "overhead_ratio": med_ours / med_plain,
        "cold_start_s": cold["seconds"],
        "cold_start_peak_rss_mb": cold["peak_rss_mb"],
        "encode_peak_rss_mb": rss["peak_rss_mb"],
        "first_conversion_s": conversion["seconds"] if conversion else None,
        "first_conversion_peak_rss_mb": conversion["peak_rss_mb"] if conversion else None,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    n = args.texts
    rows = [
        (
            f"our Embedder, {n} x 60-word FI texts",
            f"{result['ours_texts_per_s']:.1f} texts/s (median {med_ours:.2f} s)",
        ),
        (
            "plain SentenceTransformer.encode, same texts",
            f"{result['plain_texts_per_s']:.1f} texts/s (median {med_plain:.2f} s)",
        ),
        ("overhead ratio (ours / plain)", f"{result['overhead_ratio']:.3f}"),
        (
            "cold start: import + load + first encode",
            f"{cold['seconds']:.1f} s, peak RSS {cold['peak_rss_mb']:.0f} MB",
        ),
        (f"peak RSS while encoding {n} texts", f"{rss['peak_rss_mb']:.0f} MB"),
    ]
    if conversion:
        rows.append(
            (
                "first-ever use (convert + load + encode)",
                f"{conversion['seconds']:.1f} s, peak RSS {conversion['peak_rss_mb']:.0f} MB",
            )
        )
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
