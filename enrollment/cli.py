"""The ``afis-enrollment`` command line (also ``python -m enrollment``): the e-KTP enrolment
layer's ``demo``, ``checks``, ``dedup``, ``status``, ``adjudicate``, ``deletion``,
``ktp-digital``, ``workstation``, and the packets' ``packet-keys``, ``receiver`` (the
centre's endpoint), ``outbox`` (a station's delivery) and ``capture`` (scripted and batch
sessions into a station's outbox).

The engine's own command line (``afis``) knows nothing of this layer; this one is built on
the engine's public API.

Examples
--------
>>> parser = build_parser()
>>> parser.parse_args(["demo", "--people", "100"]).people
100
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from afis.cli import run_command
from enrollment import constants as C

__all__ = ["build_parser", "main"]

DEFAULT_DB = "afis-centre.db"
DEFAULT_WORK = "afis-centre-work"


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    """A Dask client for --scheduler or --workers, else None (run in this process)."""
    if getattr(args, "scheduler", None):
        from distributed import Client

        with Client(args.scheduler) as client:
            yield client
    elif getattr(args, "workers", 0):
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        yield None


def _store(args: argparse.Namespace) -> Any:
    from enrollment.store import Store

    return Store(args.db)


def _cmd_demo(args: argparse.Namespace) -> int:
    from enrollment.dedup import DedupOptions
    from enrollment.demo import DemoOptions, run_demo

    db, work = Path(args.db), Path(args.work_dir)
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    options = DemoOptions(
        people=args.people,
        duplicate_share=args.duplicates,
        mismatches=args.mismatches,
        seed=args.seed,
    )
    print(
        f"demo: {options.people} synthetic people, {options.duplicate_share:.1%} enrolled twice "
        f"under another NIK, {options.mismatches} NIK/sex mismatches -> {db}"
    )
    with _client(args) as client:
        report = run_demo(
            db,
            work,
            options,
            DedupOptions(chunk_size=args.chunk_size),
            client=client,
            threads=args.threads,
            processes=args.processes,
            stations=args.stations,
            progress=sys.stderr.isatty(),
        )
    print("\n".join(report.lines()))
    return 0


def _cmd_checks(args: argparse.Namespace) -> int:
    from enrollment.checks import run_checks

    counts = run_checks(_store(args))
    for status, n in sorted(counts.items()):
        print(f"{status.value:<28} {n}")
    return 0


def _cmd_dedup(args: argparse.Namespace) -> int:
    from enrollment.dedup import DedupOptions, run_dedup

    with _client(args) as client:
        summary = run_dedup(
            _store(args),
            args.work_dir,
            DedupOptions(chunk_size=args.chunk_size),
            client=client,
            threads=args.threads,
            processes=args.processes,
            progress=sys.stderr.isatty(),
        )
    print("\n".join(summary.lines()))
    return 0


def _cmd_gallery(args: argparse.Namespace) -> int:
    from afis.people import people_index_options
    from afis.people_shards import ShardedPeopleGallery
    from enrollment.dedup import GALLERY

    folder = Path(args.work_dir) / GALLERY
    with ShardedPeopleGallery.open(folder) as gallery:
        if args.action == "compact":
            gallery.compact()
        elif args.action == "repartition":
            people = args.people or gallery.count()
            options = people_index_options(people, gallery.shards)
            gallery.compact(repartition=True, options=options)
        counts = gallery.shard_counts()
        print(f"gallery {folder}: {sum(counts)} people in {gallery.shards} shard(s)")
        for number, count in enumerate(counts):
            o = gallery.shard(number).options
            print(f"  shard {number}: {count} people, nlist {o.nlist}, nprobe {o.nprobe}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.record is not None:
        print(f"record {args.record}: {store.status(args.record).value}")
        for h in store.history(args.record):
            before = h.from_status.value if h.from_status else "-"
            when = f"{h.at:%Y-%m-%d %H:%M:%S}"
            print(f"  {when} {before} -> {h.to_status.value} by {h.actor}: {h.reason}")
        return 0
    for status, n in sorted(store.status_counts().items()):
        print(f"{status.value:<28} {n}")
    return 0


def _cmd_adjudicate(args: argparse.Namespace) -> int:
    from enrollment.adjudication import decide, pending_cases

    store = _store(args)
    if args.action == "list":
        cases = pending_cases(store)
        for case in cases:
            print(f"record {case.record_id} NIK {case.nik} {case.name}: {case.reason}")
            for c in case.candidates:
                fingers = " ".join(f"{s:.3f}" for s in c.finger_scores)
                tag = " same NIK" if c.same_nik else ""
                print(
                    f"  candidate {c.record_id} NIK {c.nik} ({c.status.value}{tag}) fused "
                    f"{c.fused_score:.3f} {c.verdict}; fingers {fingers}"
                )
        print(f"{len(cases)} pending case(s)")
        return 0
    new = decide(store, args.record, args.decision, actor=args.actor, reason=args.reason)
    print(f"record {args.record}: {new.value}")
    return 0


def _cmd_deletion(args: argparse.Namespace) -> int:
    from enrollment.adjudication import file_deletion, pending_deletions, resolve_deletion

    store = _store(args)
    if args.action == "list":
        requests = pending_deletions(store)
        for r in requests:
            print(
                f"request {r.id}: record {r.record_id} (was {r.previous_status.value}), "
                f"counterpart {r.counterpart_id}, filed by {r.filed_by}: {r.reason}"
            )
        print(f"{len(requests)} pending request(s)")
    elif args.action == "file":
        number = file_deletion(
            store,
            args.record,
            actor=args.actor,
            reason=args.reason,
            counterpart_id=args.counterpart,
        )
        print(f"deletion request {number} filed for record {args.record}")
    else:
        new = resolve_deletion(
            store, args.request, args.verdict == "approve", actor=args.actor, reason=args.reason
        )
        verb = "approved" if args.verdict == "approve" else "rejected"
        print(f"deletion request {args.request} {verb}: record now {new.value}")
    return 0


def _cmd_workstation(args: argparse.Namespace) -> int:
    if args.ws_action == "add-user":
        from enrollment.workstation.users import add_user

        if args.password_file:
            text = Path(args.password_file).read_text()
        else:
            text = sys.stdin.readline()
        password = text.rstrip("\r\n")
        uid = add_user(_store(args), args.username, password, role=args.role, region=args.region)
        print(f"user {args.username} ({args.role}) added, id {uid}")
        return 0
    if args.ws_action == "set-user":
        from enrollment.workstation.users import update_user

        password = None
        if args.password_file:
            password = Path(args.password_file).read_text().splitlines()[0]
        elif args.password:
            password = sys.stdin.readline().rstrip("\r\n")
        active = {"activate": True, "deactivate": False}.get(args.state or "")
        update_user(_store(args), args.username, actor=args.actor, active=active, password=password)
        print(f"user {args.username} updated")
        return 0
    from enrollment.workstation import create_app, serve

    app = create_app(_store(args), secure_cookies=args.secure_cookies)
    print(f"workstation on http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    serve(app, host=args.host, port=args.port, threads=args.threads)
    return 0


def _cmd_packet_keys(args: argparse.Namespace) -> int:
    from enrollment.packet.keys import new_key, public_pem, write_private_key

    if Path(args.out).exists():
        raise SystemExit(f"{args.out} exists: a key is never overwritten")
    key = new_key()
    write_private_key(args.out, key)
    public = Path(args.public or f"{Path(args.out).with_suffix('')}.pub.pem")
    public.write_text(public_pem(key))
    print(f"P-256 key written to {args.out} (0600), its public half to {public}")
    return 0


def _receiver(args: argparse.Namespace) -> Any:
    from enrollment.packet.keys import read_private_key
    from enrollment.receiver import Receiver, StationRegister

    stations = StationRegister.load(args.stations)
    return Receiver(_store(args), args.folder, read_private_key(args.key), stations)


def _cmd_receiver(args: argparse.Namespace) -> int:
    from enrollment.packet.keys import read_public_key
    from enrollment.receiver import StationRegister, make_server

    if args.rx_action == "add-station":
        path = Path(args.stations)
        stations = StationRegister.load(path) if path.exists() else StationRegister()
        stations.add(args.station_id, read_public_key(Path(args.public).read_text()), args.areas)
        stations.save(path)
        print(f"station {args.station_id} registered in {path} (areas: {args.areas or 'all'})")
        return 0
    receiver = _receiver(args)
    if args.rx_action == "ingest":
        report = receiver.ingest()
        print(f"{report.records} new records, {report.resent} re-sent, {report.failed} failed")
        return 0
    server = make_server(receiver, args.host, args.port, threads=args.threads)
    print(f"receiving packets on http://{args.host}:{server.effective_port}/packets (Ctrl-C)")
    try:
        server.run()
    except KeyboardInterrupt:
        server.close()
    return 0


def _cmd_outbox(args: argparse.Namespace) -> int:
    from enrollment.capture import OperatorRegister, PopulationRegister, Station
    from enrollment.outbox import Outbox
    from enrollment.packet.keys import read_private_key, read_public_key

    station = Station(args.station_id, args.folder, PopulationRegister([]), OperatorRegister())
    outbox = Outbox(
        station,
        station_key=read_private_key(args.key),
        centre_key=read_public_key(Path(args.centre_public).read_text()),
    )
    try:
        if args.ob_action == "deliver":
            tries = outbox.run(args.url, until_sent=True) if args.until_sent else None
            if tries is None:
                outbox.sync()
                tries = outbox.deliver(args.url)
            for t in tries:
                print(f"{t.registration_id}  {t.outcome.value:<16} {t.reason}")
        elif args.ob_action == "release":
            outbox.release(args.session)
            print(f"{args.session} queued again")
        elif args.ob_action == "resend":
            outbox.resend(args.session, args.reason)
            print(f"{args.session} sealed again and queued")
        else:
            outbox.sync()
            for e in outbox.entries():
                print(
                    f"{e.session_id}  {e.status.value:<26} {e.registration_id or '-':<28} "
                    f"{e.delivery:<6} tries {e.attempts}  {e.last_error}"
                )
    finally:
        outbox.close()
    return 0


def _cmd_capture(args: argparse.Namespace) -> int:
    from enrollment.packet.keys import read_private_key, read_public_key
    from enrollment.scripted import run_batch, run_script

    if args.cap_action == "script":
        result = run_script(args.file)
        print(f"{result.session_id}: {result.status}")
        return 0
    report = run_batch(
        args.folder,
        args.station_folder,
        station_id=args.station_id,
        station_key=read_private_key(args.key),
        centre_key=read_public_key(Path(args.centre_public).read_text()),
        register_size=args.register_size,
        seed=args.seed,
        limit=args.limit,
    )
    print("\n".join(report.lines()))
    return 1 if report.failed else 0


def _cmd_ktp(args: argparse.Namespace) -> int:
    from enrollment.ktp_digital.keys import IssuerKey, TrustList

    action = args.ktp_action
    if action == "keygen":
        key = IssuerKey.generate(args.kid, args.alg)
        key.save(args.key)
        trust_path = Path(args.trust)
        keys = []
        if trust_path.exists():
            keys = TrustList.load(trust_path).keys()
        TrustList([*keys, key.public()]).save(trust_path)
        print(
            f"key {key.kid} ({key.alg}) -> {args.key}; trust list {trust_path} holds "
            f"{len(keys) + 1} key(s)"
        )
        return 0
    if action == "verify":
        from enrollment.ktp_digital.revocation import StatusList
        from enrollment.ktp_digital.verifier import check_image, check_text, export

        trust = TrustList.load(args.trust)
        status = StatusList.load(args.status, trust) if args.status else None
        if (args.text is None) == (args.image is None):
            raise SystemExit("afis-enrollment ktp-digital verify: give an IMAGE or --text")
        if args.text is not None:
            result = check_text(args.text, trust, status_list=status)
        else:
            result = check_image(args.image, trust, status_list=status)
        print(f"{result.status}: {result.message}")
        for warning in result.warnings:
            print(f"warning: {warning}")
        if result.credential is not None:
            for name, value in result.credential.biodata.items():
                print(f"  {name:16} {value}")
        if args.out:
            for kind, path in export(result, args.out).items():
                print(f"  {kind}: {path}")
        return 0 if result.valid else 1
    if action == "demo":
        from enrollment.ktp_digital.demo import run_ktp_demo

        report = run_ktp_demo(args.out, records=args.records, seed=args.seed)
        print("\n".join(report.lines()))
        return 0 if report.verified == report.records else 1
    from enrollment.ktp_digital.issuance import Issuer

    store = _store(args)
    if action == "issue":
        from afis.atomic import atomic_write
        from enrollment.ktp_digital.qr import save_qr

        issuer = Issuer(store, IssuerKey.load(args.key))
        photo = Path(args.photo).read_bytes() if args.photo else None
        credential, text = issuer.issue(
            args.record, actor=args.actor, photo=photo, fingers=args.fingers
        )
        stem = credential.nik
        paths = save_qr(text, args.out, stem)
        paths["txt"] = atomic_write(Path(args.out) / f"{stem}.txt", text.encode("ascii"))
        print(
            f"credential {credential.credential_id} for record {args.record} "
            f"({len(text)} characters)"
        )
        for kind, path in paths.items():
            print(f"  {kind}: {path}")
        return 0
    if action == "revoke":
        from enrollment.ktp_digital.issuance import revoke

        revoke(store, args.credential, actor=args.actor, reason=args.reason)
        print(f"credential {args.credential} revoked")
        return 0
    # status-list
    key = IssuerKey.load(args.key)
    listing = Issuer(store, key).status_list(next_update_s=int(args.valid_hours * 3600))
    listing.save(args.out, key)
    print(f"status list of {listing.size} ids, {len(listing.revoked())} revoked -> {args.out}")
    return 0


def _db(p: argparse.ArgumentParser, default: str = DEFAULT_DB) -> None:
    p.add_argument(
        "--db", default=default, help=f"SQLite file or SQLAlchemy URL (default {default})"
    )


def _cluster(p: argparse.ArgumentParser) -> None:
    p.add_argument("--work-dir", default=DEFAULT_WORK, help="folder for the job's index files")
    p.add_argument(
        "--workers", type=int, default=0, help="run on a local Dask cluster of N workers"
    )
    p.add_argument("--scheduler", help="address of a Dask scheduler (workers share --work-dir)")
    p.add_argument("--threads", type=int, help="threads in this process (default: all cores)")
    p.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="search processes without Dask (default: one per core; 1: search in this process)",
    )
    p.add_argument("--chunk-size", type=int, default=128, help="records per checkpoint")


def build_parser() -> argparse.ArgumentParser:
    """The ``afis-enrollment`` argument parser, one subcommand per job of the layer."""
    parser = argparse.ArgumentParser(
        prog="afis-enrollment", description="e-KTP enrolment lifecycle on the nusafis engine"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "demo",
        help="synthetic enrolment day: packets, checks and de-duplication end to end",
        description="Make a seeded synthetic population (ten fingers a person, as minutiae; "
        "a share enrolled again under another NIK with fresh impressions; a few NIK/sex "
        "mismatches), enrol each record as a station does (packet built, signed and sealed "
        "by --stations worker processes, written to the station's outbox in --work-dir, "
        "delivered over HTTP to the centre's receiving endpoint on 127.0.0.1), ingest the "
        "received packets into a fresh SQLite file (DB is replaced), run the centre's "
        "checks and the de-duplication job, and print what was planted against what was "
        "found, the packet figures, the status counts and the throughput.",
    )
    p.add_argument("--people", type=int, default=5000, help="people (default 5000)")
    p.add_argument("--duplicates", type=float, default=0.01, help="share enrolled twice")
    p.add_argument("--mismatches", type=int, default=5, help="records with NIK/sex mismatch")
    p.add_argument("--seed", type=int, default=0, help="seed of the population")
    p.add_argument(
        "--stations",
        type=int,
        default=C.DEMO_STATIONS,
        help=f"station processes building the packets (default {C.DEMO_STATIONS})",
    )
    p.add_argument("--db", default="out/demo/centre.db", help="SQLite file (replaced)")
    _cluster(p)
    p.set_defaults(run=_cmd_demo, work_dir="out/demo/work")

    p = sub.add_parser("checks", help="run the centre's checks on RECEIVED_AT_CENTRAL records")
    _db(p)
    p.set_defaults(run=_cmd_checks)

    p = sub.add_parser(
        "dedup",
        help="run or resume the de-duplication job",
        description="Search every SENT_FOR_DEDUP record against the unique records and the "
        "earlier records of its batch; resumes an interrupted job.",
    )
    _db(p)
    _cluster(p)
    p.set_defaults(run=_cmd_dedup)

    p = sub.add_parser(
        "gallery",
        help="the persistent gallery of unique records: status, compact, repartition",
        description="Show the de-duplication gallery's shards; compact them (drop deleted "
        "people, one segment a shard); or re-partition the candidate index for its size "
        "(or --people) after it has grown.",
    )
    p.add_argument("action", choices=("status", "compact", "repartition"))
    p.add_argument("--work-dir", default=DEFAULT_WORK, help="the de-duplication work folder")
    p.add_argument("--people", type=int, help="repartition for this many people")
    p.set_defaults(run=_cmd_gallery)

    p = sub.add_parser("status", help="status counts, or one record's history")
    _db(p)
    p.add_argument("--record", type=int, help="show this record's status history")
    p.set_defaults(run=_cmd_status)

    p = sub.add_parser("adjudicate", help="list or decide grey-zone records")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("list", help="pending cases with candidates and per-finger scores")
    _db(a)
    a = actions.add_parser("decide", help="record a decision on a pending case")
    _db(a)
    a.add_argument("record", type=int)
    a.add_argument("decision", choices=("same_person", "different_people"))
    a.add_argument("--actor", required=True, help="the adjudicator")
    a.add_argument("--reason", required=True)
    p.set_defaults(run=_cmd_adjudicate)

    p = sub.add_parser("deletion", help="file, list or resolve deletion requests")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("list", help="pending requests")
    _db(a)
    a = actions.add_parser("file", help="a region asks for a record's deletion")
    _db(a)
    a.add_argument("record", type=int)
    a.add_argument("--counterpart", type=int, help="the record it duplicates")
    a.add_argument("--actor", required=True, help="the region officer")
    a.add_argument("--reason", required=True, help="the region's analysis")
    a = actions.add_parser("resolve", help="approve or reject a request")
    _db(a)
    a.add_argument("request", type=int)
    a.add_argument("verdict", choices=("approve", "reject"))
    a.add_argument("--actor", required=True)
    a.add_argument("--reason", required=True)
    p.set_defaults(run=_cmd_deletion)

    p = sub.add_parser(
        "workstation",
        help="the adjudication workstation (web application) and its users",
        description="Serve the adjudication workstation with waitress, or add a user.",
    )
    actions = p.add_subparsers(dest="ws_action", required=True)
    a = actions.add_parser("serve", help="serve the web application")
    _db(a)
    a.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    a.add_argument("--port", type=int, default=8080, help="port (8080)")
    a.add_argument("--threads", type=int, default=8, help="waitress worker threads (8)")
    a.add_argument("--secure-cookies", action="store_true", help="session cookie over HTTPS only")
    a = actions.add_parser("add-user", help="add a user (password from stdin or a file)")
    _db(a)
    a.add_argument("username")
    a.add_argument(
        "--role",
        required=True,
        choices=("adjudicator", "supervisor", "regional_officer", "auditor"),
    )
    a.add_argument("--region", default="", help="six-digit region (regional officers)")
    a.add_argument("--password-file", help="read the password from this file's first line")
    a = actions.add_parser(
        "set-user", help="deactivate or reactivate a user, or set a new password (unlocks)"
    )
    _db(a)
    a.add_argument("username")
    a.add_argument("state", nargs="?", choices=("activate", "deactivate"))
    a.add_argument("--password", action="store_true", help="read a new password from stdin")
    a.add_argument("--password-file", help="read a new password from this file's first line")
    a.add_argument("--actor", required=True, help="who makes the change (audited)")
    p.set_defaults(run=_cmd_workstation)

    p = sub.add_parser("packet-keys", help="a new P-256 key (station signing or centre)")
    p.add_argument("--out", required=True, help="private key file (PEM, written 0600)")
    p.add_argument("--public", help="public key file (default: <out>.pub.pem)")
    p.set_defaults(run=_cmd_packet_keys)

    p = sub.add_parser(
        "receiver",
        help="the centre's endpoint receiving enrolment packets",
        description="Register stations, serve the receiving endpoint (waitress), ingest.",
    )
    actions = p.add_subparsers(dest="rx_action", required=True)
    a = actions.add_parser("add-station", help="register a station's public key and areas")
    a.add_argument("station_id")
    a.add_argument("--public", required=True, help="the station's public key (PEM)")
    a.add_argument("--areas", nargs="*", default=[], help="area code prefixes (2/4/6 digits)")
    a.add_argument("--stations", required=True, help="the station register (JSON)")
    for action, text in (
        ("serve", "serve POST /packets, ingesting in the background"),
        ("ingest", "turn pending receipts into records"),
    ):
        a = actions.add_parser(action, help=text)
        _db(a)
        a.add_argument("--folder", required=True, help="where received packets are kept")
        a.add_argument("--key", required=True, help="the centre's private key (PEM)")
        a.add_argument("--stations", required=True, help="the station register (JSON)")
        if action == "serve":
            a.add_argument("--host", default="127.0.0.1", help="address (127.0.0.1)")
            a.add_argument("--port", type=int, default=8470, help="port (8470)")
            a.add_argument("--threads", type=int, default=4, help="waitress threads (4)")
    p.set_defaults(run=_cmd_receiver)

    p = sub.add_parser(
        "outbox",
        help="a station's outbox: statuses, delivery to the centre",
        description="Track a station's sessions, seal approved records, deliver packets.",
    )
    actions = p.add_subparsers(dest="ob_action", required=True)
    for action, text in (
        ("status", "the station's records and their statuses"),
        ("deliver", "seal approved records and deliver what is due"),
        ("release", "queue a held packet again"),
        ("resend", "seal a regionally failed record again and queue it"),
    ):
        a = actions.add_parser(action, help=text)
        a.add_argument("--folder", required=True, help="the station's folder")
        a.add_argument("--station-id", required=True)
        a.add_argument("--key", required=True, help="the station's private key (PEM)")
        a.add_argument("--centre-public", required=True, help="the centre's public key (PEM)")
        if action == "deliver":
            a.add_argument("--url", required=True, help="the centre, e.g. http://host:8470")
            a.add_argument("--until-sent", action="store_true", help="retry until all are sent")
        if action in ("release", "resend"):
            a.add_argument("session")
        if action == "resend":
            a.add_argument("--reason", required=True, help="what was fixed")
    p.set_defaults(run=_cmd_outbox)

    p = sub.add_parser(
        "capture",
        help="scripted capture sessions and batch enrolment into a station's outbox",
        description="Run capture sessions through the file-backed devices and queue their "
        "sealed packets in the station's outbox.",
    )
    actions = p.add_subparsers(dest="cap_action", required=True)
    a = actions.add_parser("script", help="one session from a TOML or JSON script")
    a.add_argument("file", help="the script (see enrollment.scripted)")
    a = actions.add_parser("batch", help="one synthetic resident per ten FVC fingers (resumable)")
    a.add_argument("folder", help="images named <finger>_<impression>.tif")
    a.add_argument("--station-folder", required=True, help="the station's folder")
    a.add_argument("--station-id", required=True)
    a.add_argument("--key", required=True, help="the station's private key (PEM)")
    a.add_argument("--centre-public", required=True, help="the centre's public key (PEM)")
    a.add_argument("--register-size", type=int, default=1000, help="synthetic register (1000)")
    a.add_argument("--seed", type=int, default=0, help="seed of the register (0)")
    a.add_argument("--limit", type=int, help="enrol at most this many residents")
    p.set_defaults(run=_cmd_capture)

    p = sub.add_parser(
        "ktp-digital",
        help="KTP Digital: keys, issuance, revocation, offline verification",
        description="Signed identity credentials shown as QR codes and verified offline.",
    )
    actions = p.add_subparsers(dest="ktp_action", required=True)
    a = actions.add_parser("keygen", help="a new issuer key, added to a trust list")
    a.add_argument("--kid", required=True, help="key id (letters, digits, . _ -)")
    a.add_argument("--alg", choices=("ES256", "EdDSA"), default="ES256")
    a.add_argument("--key", required=True, help="private key file to write")
    a.add_argument("--trust", required=True, help="trust list to create or extend")
    a = actions.add_parser("issue", help="issue a credential for a CARD_ISSUED record")
    _db(a)
    a.add_argument("record", type=int)
    a.add_argument("--key", required=True, help="issuer key file")
    a.add_argument("--out", required=True, help="folder for the QR PNG, SVG and text")
    a.add_argument("--photo", help="face photo (any image) for the thumbnail")
    a.add_argument("--fingers", action="store_true", help="carry the two chip fingers")
    a.add_argument("--actor", required=True)
    a = actions.add_parser("revoke", help="revoke a credential")
    _db(a)
    a.add_argument("credential", type=int)
    a.add_argument("--actor", required=True)
    a.add_argument("--reason", required=True)
    a = actions.add_parser("status-list", help="sign and write the revocation status list")
    _db(a)
    a.add_argument("--key", required=True, help="issuer key file")
    a.add_argument("--out", required=True, help="file to write")
    a.add_argument("--valid-hours", type=float, default=24.0, help="until the next update")
    a = actions.add_parser("verify", help="verify a QR code offline (exit 0 valid, 1 refused)")
    a.add_argument("image", nargs="?", help="camera image or PNG of the QR code")
    a.add_argument("--text", help="the decoded QR text instead of an image")
    a.add_argument("--trust", required=True, help="trust list of issuer keys")
    a.add_argument("--status", help="signed revocation status list")
    a.add_argument("--out", help="folder for the .txt, .csv, photo and .jpg preview")
    a = actions.add_parser("demo", help="synthetic residents: issue, QR, read, verify")
    a.add_argument("--records", type=int, default=1000)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--out", default="out/ktp-digital", help="folder for the demo's store")
    p.set_defaults(run=_cmd_ktp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``afis-enrollment`` console script."""
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
