"""The ``afis`` command line.

``afis extract``  images to templates (resumable: existing outputs are skipped);
``afis show``     draws the minutiae over an image;
``afis bench``    measures the engine on datasets (``bench extract``: speed; ``bench verify``:
                 verification error rates on FVC-style folders).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from afis.bench.verify import ScorerUnavailableError, folder_dpi, verify
from afis.errors import AfisError
from afis.extract import ExtractOptions, extract, trace
from afis.extract.render import draw_minutiae, save_stages
from afis.image import FingerprintImage, load_image

__all__ = ["main"]

log = logging.getLogger("afis")

#: File extension of templates in the engine's own format.
TEMPLATE_SUFFIX = ".aft"
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".bmp", ".jpg", ".jpeg", ".jp2", ".j2k", ".wsq")


def _progress(items: Sequence, description: str) -> tqdm:
    """A progress bar on a terminal; periodic log lines otherwise."""
    return tqdm(items, desc=description, unit="img", disable=not sys.stderr.isatty())


def _image_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES))
        else:
            files.append(p)
    return files


def _cmd_extract(args: argparse.Namespace) -> int:
    options = ExtractOptions(max_minutiae=args.max_minutiae)
    files = _image_files(args.images)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    done = 0
    for i, path in enumerate(_progress(files, "extract")):
        target = out / (path.stem + TEMPLATE_SUFFIX)
        if target.exists() and not args.overwrite and not args.debug_dir:
            continue  # resumable: finished work is kept
        try:
            if args.debug_dir:
                steps = trace(path, dpi=args.dpi, options=options)
                template = steps.template
                save_stages(steps, args.debug_dir, path.stem)
            else:
                template = extract(path, dpi=args.dpi, options=options)
        except (AfisError, OSError) as exc:
            failures += 1
            log.error("%s: %s", path, exc)
            continue
        tmp = target.with_suffix(".part")
        tmp.write_bytes(template.to_bytes())
        os.replace(tmp, target)  # never leave a half-written template behind
        done += 1
        if not sys.stderr.isatty() and (i + 1) % 100 == 0:
            log.info("extracted %d/%d", i + 1, len(files))
    log.info("%d templates written to %s, %d failed", done, out, failures)
    return 1 if failures else 0


def _cmd_show(args: argparse.Namespace) -> int:
    steps = trace(args.image, dpi=args.dpi)
    assert steps.template is not None
    draw_minutiae(steps.image, steps.template).save(args.output)
    print(f"{args.image}: {steps.template!r} -> {args.output}")
    return 0


def _throughput(images: Sequence[FingerprintImage], threads: int, repeat: int) -> float:
    """Images extracted per second by a pool of ``threads`` threads."""
    start = time.perf_counter()
    for _ in range(repeat):
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(extract, images))
    return repeat * len(images) / (time.perf_counter() - start)


def _bench_extract(args: argparse.Namespace) -> int:
    rows = []
    for directory in args.dirs:
        files = _image_files([directory])
        if not files:
            raise SystemExit(f"afis bench extract: no images in {directory}")
        dpi = args.dpi if args.dpi is not None else folder_dpi(directory, args.manifest)
        images: list[FingerprintImage] = [
            load_image(f, dpi=dpi) for f in files
        ]  # decoding excluded
        per_image, counts = [], []
        for image in images:
            start = time.perf_counter()
            template = extract(image)
            per_image.append(time.perf_counter() - start)
            counts.append(len(template))

        one = _throughput(images, 1, args.repeat)
        many = _throughput(images, args.threads, args.repeat)
        rows.append(
            {
                "set": str(directory),
                "images": len(images),
                "median_minutiae": statistics.median(counts),
                "median_extract_ms": 1000 * statistics.median(per_image),
                "images_per_s_1_thread": one,
                f"images_per_s_{args.threads}_threads": many,
                "thread_speedup": many / one,
            }
        )
    header = ("set", "images", "minutiae", "ms", "img/s 1t", f"img/s {args.threads}t", "speedup")
    print(f"{header[0]:<40}" + "".join(f"{h:>10}" for h in header[1:]))
    for r in rows:
        values = (
            f"{r['images']}",
            f"{r['median_minutiae']:.1f}",
            f"{r['median_extract_ms']:.2f}",
            f"{r['images_per_s_1_thread']:.1f}",
            f"{r[f'images_per_s_{args.threads}_threads']:.1f}",
            f"{r['thread_speedup']:.2f}",
        )
        print(f"{r['set']:<40}" + "".join(f"{v:>10}" for v in values))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


def _bench_verify(args: argparse.Namespace) -> int:
    protocols = ("fvc", "allpairs") if args.protocol == "both" else (args.protocol,)
    try:
        report = verify(
            args.dirs,
            protocols=protocols,
            dpi=args.dpi,
            manifest=args.manifest,
            threads=args.threads,
        )
    except (ScorerUnavailableError, ValueError, OSError) as exc:
        log.debug("details", exc_info=True)
        print(f"afis bench verify: error: {exc}", file=sys.stderr)
        return 2
    print(report.format_table())
    if args.json:
        report.to_json(args.json, include_scores=args.scores)
    if args.det:
        report.plot_det(args.det)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="afis", description="nusafis fingerprint engine")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "extract",
        help="extract templates from images",
        description="Extract a template "
        "from every image (files or folders of images) into OUT as <stem>.aft. Existing "
        "outputs are skipped, so an interrupted run resumes where it stopped.",
    )
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--out", required=True, help="folder for the templates")
    p.add_argument(
        "--dpi", type=float, help="resolution of the images (default: from the file, else 500)"
    )
    p.add_argument("--max-minutiae", type=int, default=ExtractOptions().max_minutiae)
    p.add_argument("--debug-dir", help="also write a PNG per extraction stage here")
    p.add_argument("--overwrite", action="store_true", help="redo images whose template exists")
    p.set_defaults(run=_cmd_extract)

    p = sub.add_parser(
        "show",
        help="draw the minutiae of an image",
        description="Extract and draw the "
        "minutiae (endings red, bifurcations blue) and singular points over the image.",
    )
    p.add_argument("image")
    p.add_argument("-o", "--output", required=True, help="PNG to write")
    p.add_argument("--dpi", type=float, help="resolution of the image")
    p.set_defaults(run=_cmd_show)

    p = sub.add_parser("bench", help="benchmarks on datasets", description="Measure the engine.")
    bench = p.add_subparsers(dest="bench", required=True)
    b = bench.add_parser(
        "extract",
        help="extraction speed and minutiae counts",
        description="Per folder: "
        "median minutiae, median extraction time per image on one thread (decoding "
        "excluded) and throughput on 1 and N threads.",
    )
    b.add_argument("dirs", nargs="+", help="folders of images")
    b.add_argument("--dpi", type=float, help="resolution of the images (all folders)")
    b.add_argument(
        "--manifest",
        help="JSON manifest giving each set's dpi (e.g. datasets/fvc.json); a manifest.json "
        "with a 'dpi' beside the images also works",
    )
    b.add_argument(
        "--threads", type=int, default=2, help="threads for the parallel run (default 2)"
    )
    b.add_argument(
        "--repeat", type=int, default=3, help="passes over the images per throughput run"
    )
    b.add_argument("--json", help="also write the rows as JSON here")
    b.set_defaults(run=_bench_extract)

    b = bench.add_parser(
        "verify",
        help="verification error rates (EER, FMR100, FMR1000, ZeroFMR)",
        description="Per folder of "
        "images named <finger>_<impression>.<ext> (FVC layout): extract every image, score "
        "the genuine and impostor pairs of the FVC protocol (impostors: first impressions "
        "only) and/or the all-pairs protocol (impostors: every pair of different fingers) "
        "with afis.compare, and print EER, FMR100, FMR1000 and ZeroFMR in percent with "
        "median extraction (ms) and comparison (µs) times, plus macro averages.",
    )
    b.add_argument("dirs", nargs="+", help="folders of images")
    b.add_argument("--dpi", type=float, help="resolution of the images (all folders)")
    b.add_argument(
        "--manifest",
        help="JSON manifest giving each set's dpi (e.g. datasets/fvc.json); a manifest.json "
        "with a 'dpi' beside the images also works",
    )
    b.add_argument(
        "--protocol",
        choices=("fvc", "allpairs", "both"),
        default="both",
        help="pairs to score (default both)",
    )
    b.add_argument("--json", help="also write the rows as JSON here")
    b.add_argument(
        "--scores", action="store_true", help="put every raw score and its pair in the JSON"
    )
    b.add_argument("--det", help="also draw the DET curves (all-pairs if run) into this PNG")
    b.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads scoring pairs (default 1, so comparison times are single-thread)",
    )
    b.set_defaults(run=_bench_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``afis`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    try:
        return int(args.run(args))
    except AfisError as exc:
        print(f"afis: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
