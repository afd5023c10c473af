"""The ``afis`` command line.

``afis extract``  images to templates (resumable: existing outputs are skipped);
``afis show``     draws the minutiae over an image;
``afis bench``    measures the engine on datasets (``bench extract``: speed; ``bench verify``:
                 verification error rates on FVC-style folders);
``afis convert``  converts templates between the engine's format, ISO/IEC 19794-2, ANSI
                 INCITS 378 and the ISO card formats (images are extracted first).

The engine's command line imports no service layer: the e-KTP enrolment lifecycle has its
own (``afis-enrollment``, :mod:`enrollment.cli`), and so has the card reader
(``afis-reader``).
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

from afis import interchange
from afis.bench.identify import DEFAULT_BACKGROUND_SOURCE
from afis.bench.verify import ScorerUnavailableError, folder_dpi, verify
from afis.constants import INDEX_PRESETS, PROCESSING_PPI
from afis.errors import AfisError
from afis.extract import ExtractOptions, extract, trace
from afis.extract.render import draw_minutiae, save_stages
from afis.image import FingerprintImage, load_image
from afis.template import Template

__all__ = ["main", "run_command"]

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


def _bench_identify(args: argparse.Namespace) -> int:
    from afis.bench.identify import identify_benchmark, load_background_source
    from afis.index import IndexOptions  # faiss and numba load only for this command

    try:
        if not args.dirs and not args.synthetic_mates:
            raise ValueError("give folders of images or --synthetic-mates M")
        source = load_background_source(args.background_source) if args.background else None
        overrides = {
            name: getattr(args, name)
            for name in ("nlist", "nprobe", "neighbours")
            if getattr(args, name) is not None
        }
        options = IndexOptions.preset(args.preset, **overrides)
        report = identify_benchmark(
            args.dirs,
            background=args.background,
            source=source,
            seed=args.seed,
            options=options,
            dpi=args.dpi,
            manifest=args.manifest,
            rerank_penetration=args.rerank_penetration,
            rerank_max=args.rerank_max,
            threads=args.threads,
            synthetic=args.synthetic_mates,
            exhaustive=args.exhaustive,
        )
    except (ValueError, TypeError, OSError) as exc:
        log.debug("details", exc_info=True)
        print(f"afis bench identify: error: {exc}", file=sys.stderr)
        return 2
    print(report.format_table())
    if args.json:
        report.to_json(args.json)
    if args.plot:
        report.plot(args.plot)
    return 0


def _bench_dedup(args: argparse.Namespace) -> int:
    from afis.bench.dedup import dedup_growth  # faiss loads only for this command
    from afis.index import IndexOptions
    from afis.people import people_index_options

    try:
        sizes = [int(n) for n in str(args.people).split(",")]
        options = None
        if args.nlist is not None or args.nprobe is not None:
            base = people_index_options(max(sizes), args.shards)
            nlist = args.nlist if args.nlist is not None else base.nlist
            nprobe = args.nprobe if args.nprobe is not None else min(base.nprobe, nlist)
            options = IndexOptions.preset("national", nlist=nlist, nprobe=nprobe)
        run = dedup_growth(
            sizes,
            args.batch,
            duplicate_share=args.duplicates,
            seed=args.seed,
            folder=args.dir,
            shards=args.shards,
            options=options,
            depth=args.depth,
            k=args.k,
            threshold=args.threshold,
            workers=args.workers,
            compact=args.compact,
            progress=True,
        )
    except (ValueError, TypeError, OSError) as exc:
        log.debug("details", exc_info=True)
        print(f"afis bench dedup: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(run.lines()))
    if args.json:
        data = run.reports[0] if len(run.reports) == 1 else run
        data.to_json(args.json)
    if args.plot:
        run.plot(args.plot)
    return 0


#: Output formats of ``afis convert``.
CONVERT_TO = ("nusafis", "iso2005", "ansi378", "iso-card-compact", "iso-card-normal")
#: Input formats of ``afis convert`` (``auto`` detects from the data).
CONVERT_FROM = (
    "auto",
    "nusafis",
    "iso2005",
    "iso2011",
    "ansi378",
    "ansi378-2009",
    "iso-card-compact",
    "iso-card-normal",
    "image",
)
_RECORD_FORMATS = {
    "iso2005": "iso19794-2:2005",
    "iso2011": "iso19794-2:2011",
    "ansi378": "ansi378:2004",
    "ansi378-2009": "ansi378:2009",
}
#: ``--order`` names -> BIT minutiae order bytes.
CARD_ORDERS = {
    "none": 0x00,
    "xy-asc": 0x05,
    "xy-desc": 0x06,
    "yx-asc": 0x09,
    "yx-desc": 0x0A,
    "angle-asc": 0x0D,
    "angle-desc": 0x0E,
    "polar-asc": 0x11,
    "polar-desc": 0x12,
}


def _image_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return w, h


def _detect_input(data: bytes) -> str:
    """Input format of ``afis convert`` from the data's first bytes."""
    if data[:4] == b"NAFT":
        return "nusafis"
    found = interchange.detect_format(data)
    if found is not None:
        return {v: k for k, v in _RECORD_FORMATS.items()}[found]
    if data[:2] == b"\x7f\x2e":
        # The data object does not say which card format; its length usually does.
        # Take the one that decodes; both may (15, 30, ... minutiae): then compact.
        for kind, compact in (("iso-card-compact", True), ("iso-card-normal", False)):
            try:
                interchange.iso19794_2_card.decode(data, compact=compact)
            except AfisError:
                continue
            return kind
        return "iso-card-compact"  # neither decodes: the error will say why
    return "image"


def _read_template(path: Path, args: argparse.Namespace) -> Template:
    data = path.read_bytes()
    kind = _detect_input(data) if args.source == "auto" else args.source
    log.debug("%s: reading as %s", path, kind)
    if kind == "nusafis":
        return Template.from_bytes(data)
    if kind in _RECORD_FORMATS:
        record = interchange.read_record(
            data,
            format=_RECORD_FORMATS[kind],
            resolution=args.resolution,
            image_size=args.image_size,
            strict=not args.lenient,
        )
        for warning in record.warnings + tuple(w for v in record.views for w in v.warnings):
            log.warning("%s: %s", path, warning)
        return record.template(args.view)
    if kind in ("iso-card-compact", "iso-card-normal"):
        return interchange.from_iso_card(
            data,
            compact=kind == "iso-card-compact",
            resolution=args.resolution or PROCESSING_PPI,
            image_size=args.image_size,
        )
    return extract(load_image(path, dpi=args.dpi))


def _cmd_convert(args: argparse.Namespace) -> int:
    try:
        template = _read_template(Path(args.input), args)
    except OSError as exc:
        print(f"afis convert: error: {exc}", file=sys.stderr)
        return 2
    if args.to == "nusafis":
        out = template.to_bytes()
    elif args.to == "iso2005":
        out = interchange.to_iso(template)
    elif args.to == "ansi378":
        out = interchange.to_ansi378(template)
    else:
        out = interchange.to_iso_card(
            template,
            compact=args.to == "iso-card-compact",
            max_minutiae=args.max_minutiae,
            order=CARD_ORDERS[args.order],
        )
    target = Path(args.output)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(out)
    os.replace(tmp, target)
    print(f"{args.input}: {template!r} -> {args.output} ({args.to}, {len(out)} bytes)")
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

    b = bench.add_parser(
        "identify",
        help="1:N identification: index hit rate against penetration, re-ranked rank-1",
        description="Gallery: impression 1 of every finger of the folders (FVC layout) plus "
        "N background fingers; probes: the other impressions. Prints the candidate index's "
        "hit rate against the penetration rate, rank-1 after the matcher re-ranks the "
        "shortlist, build time and memory per finger, and search time per probe.",
    )
    b.add_argument("dirs", nargs="*", help="folders of images")
    b.add_argument("--dpi", type=float, help="resolution of the images (all folders)")
    b.add_argument("--manifest", help="JSON manifest giving each set's dpi (datasets/fvc.json)")
    b.add_argument(
        "--synthetic-mates",
        type=int,
        default=0,
        metavar="M",
        help="purely synthetic mode: M synthetic mate fingers (impression 0 enrolled, "
        "impressions 1-7 searched) instead of folders",
    )
    b.add_argument("--background", type=int, default=0, help="background fingers (default 0)")
    b.add_argument(
        "--background-source",
        default=DEFAULT_BACKGROUND_SOURCE,
        help="'module:callable' or 'file.py:callable' with callable(count, seed) yielding "
        f"templates (default {DEFAULT_BACKGROUND_SOURCE})",
    )
    b.add_argument("--seed", type=int, default=0, help="seed of the background source")
    b.add_argument(
        "--preset",
        choices=sorted(INDEX_PRESETS),
        default="small",
        help="index settings (afis.constants.INDEX_PRESETS; default small: exhaustive); "
        "--nlist, --nprobe and --neighbours override its values",
    )
    b.add_argument("--nlist", type=int, help="IVF lists (1: exhaustive search)")
    b.add_argument("--nprobe", type=int, help="IVF lists visited per code")
    b.add_argument(
        "--neighbours",
        type=int,
        help="nearest stored codes retrieved per probe code, at least",
    )
    b.add_argument(
        "--rerank-penetration",
        type=float,
        default=0.01,
        help="shortlist share re-ranked by the matcher (default 0.01)",
    )
    b.add_argument(
        "--rerank-max",
        type=int,
        default=1000,
        help="most candidates re-ranked per probe; the search time is that shortlist's "
        "(default 1000)",
    )
    b.add_argument(
        "--exhaustive",
        action="store_true",
        help="also score every probe against the whole gallery with the matcher: its own hit "
        "rate and rank-1, the baseline of the two stages (probes x gallery comparisons)",
    )
    b.add_argument("--threads", type=int, help="threads (default: all cores)")
    b.add_argument("--json", help="also write the report as JSON here")
    b.add_argument("--plot", help="also draw the hit rate against penetration into this PNG")
    b.set_defaults(run=_bench_identify)

    b = bench.add_parser(
        "dedup",
        help="de-duplication at scale against a persistent people gallery",
        description="Build a people gallery of N synthetic people (ten fingers each), search "
        "a batch of B new people (a share of them planted duplicates of gallery people) and "
        "insert its unique people. Prints FNIR, FPIR, time per record (index search, "
        "re-rank, bookkeeping), records/s, build and insert rates, peak RSS, disk per person.",
    )
    b.add_argument(
        "--people",
        required=True,
        metavar="N[,N2,...]",
        help="gallery people; several ascending sizes (comma-separated) grow one gallery and "
        "measure a batch at each",
    )
    b.add_argument("--batch", type=int, required=True, metavar="B", help="people searched")
    b.add_argument(
        "--duplicates",
        type=float,
        default=0.05,
        help="share of the batch planted as duplicates, in [0, 1] (default 0.05)",
    )
    b.add_argument("--seed", type=int, default=0, help="seed of the population (default 0)")
    b.add_argument("--dir", help="folder to build the gallery in (default: a temporary one)")
    b.add_argument("--shards", type=int, default=1, help="gallery shards (default 1)")
    b.add_argument("--nlist", type=int, help="coarse lists of the index (default: by size)")
    b.add_argument("--nprobe", type=int, help="coarse lists visited per probe code")
    b.add_argument(
        "--depth", type=int, help="people shortlisted per probe (default: the gallery's rule)"
    )
    b.add_argument("--k", type=int, help="people re-ranked on ten fingers (default min(depth, 8))")
    b.add_argument(
        "--threshold",
        type=float,
        help="fused score from which a probe is flagged (default 10 x threshold_for_fmr(1e-3))",
    )
    b.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes synthesising the gallery's people while it is built (untimed; the "
        "same people for any count; default 1)",
    )
    b.add_argument(
        "--compact",
        action="store_true",
        help="compact the gallery into one segment before each batch (timed; the maintenance "
        "a data centre runs between batches)",
    )
    b.add_argument("--json", help="also write the report as JSON here")
    b.add_argument("--plot", help="also draw the cost against the gallery size into this PNG")
    b.set_defaults(run=_bench_dedup)

    p = sub.add_parser(
        "convert",
        help="convert a template or record between formats",
        description="Read a template (nusafis .aft), an ISO/IEC 19794-2 (2005/2011) or ANSI "
        "INCITS 378 (2004/2009) minutiae record, ISO/IEC 19794-2 card-format minutiae, or an "
        "image (extracted first), and write it as OUT in the format --to names. The input "
        "format is detected from the data unless --from gives it.",
    )
    p.add_argument("input", help="template, record, card data or image")
    p.add_argument("output", help="file to write")
    p.add_argument("--to", required=True, choices=CONVERT_TO, help="output format")
    p.add_argument(
        "--from", dest="source", default="auto", choices=CONVERT_FROM, help="input format"
    )
    p.add_argument("--view", type=int, default=0, help="finger view of a record (default 0)")
    p.add_argument("--dpi", type=float, help="resolution of an input image")
    p.add_argument(
        "--resolution",
        type=float,
        help="ppi to use instead of a record header's (records), or of the grid card data "
        "are converted to (card formats; default 500)",
    )
    p.add_argument(
        "--image-size",
        type=_image_size,
        help="real WIDTHxHEIGHT of the image a record belongs to, when its header is wrong",
    )
    p.add_argument(
        "--lenient",
        action="store_true",
        help="skip malformed extended data of records (listed as warnings) instead of failing",
    )
    p.add_argument(
        "--max-minutiae", type=int, default=60, help="card formats: most minutiae (default 60)"
    )
    p.add_argument(
        "--order", choices=tuple(CARD_ORDERS), default="none", help="card formats: sort order"
    )
    p.set_defaults(run=_cmd_convert)
    return parser


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the chosen subcommand's ``run`` with logging set up; an
    :class:`~afis.errors.AfisError` becomes a one-line message and exit status 2. Shared by
    the console scripts of every layer (``afis``, ``afis-enrollment``)."""
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    if not args.verbose:  # faiss reports at INFO every CPU variant it fails to load
        logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        return int(args.run(args))
    except AfisError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``afis`` console script."""
    return run_command(_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
