"""The `jointcase` command line: one thin entrypoint per operation."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from events.streams import Stream
from services import config, logging


def _broker(args: argparse.Namespace, settings: config.Settings) -> int:
    from services import broker

    return broker.run_forever(
        args.listen or settings.local_broker_listen,
        prefix=settings.topic_prefix,
        partitions=settings.topic_partitions,
        replication=settings.topic_replication_factor,
    )


def _db_upgrade(args: argparse.Namespace, settings: config.Settings) -> int:
    from services import db

    applied = asyncio.run(db.upgrade(settings.database_url))
    print(f"{len(applied)} migration(s) applied" if applied else "database is up to date")
    return 0


def _token_issue(args: argparse.Namespace, settings: config.Settings) -> int:
    from services import auth, db

    try:
        auth.check_role(args.role)
    except auth.InvalidRole as exc:
        print(f"--role: {exc}", file=sys.stderr)
        return 2

    async def go() -> str:
        pool = await db.create_pool(settings.database_url, max_size=1)
        try:
            return await auth.issue(pool, args.role, args.note)
        finally:
            await pool.close()

    print(asyncio.run(go()))
    return 0


def _token_revoke(args: argparse.Namespace, settings: config.Settings) -> int:
    from services import auth, db

    async def go() -> bool:
        pool = await db.create_pool(settings.database_url, max_size=1)
        try:
            return await auth.revoke(pool, args.token_id)
        finally:
            await pool.close()

    if asyncio.run(go()):
        print(f"token {args.token_id} revoked")
        return 0
    print(f"no active token {args.token_id}", file=sys.stderr)
    return 1


def _serve(args: argparse.Namespace, settings: config.Settings) -> int:
    from services import server

    server.serve(
        settings,
        host=args.host,
        port=args.port,
        run_relay=not args.no_relay,
        workers=args.workers,
    )
    return 0


def _relay(args: argparse.Namespace, settings: config.Settings) -> int:
    from services import server

    server.run_relay(settings)
    return 0


def _worker(args: argparse.Namespace, settings: config.Settings) -> int:
    from projections import worker

    return worker.run(settings)


def _rebuild(args: argparse.Namespace, settings: config.Settings) -> int:
    from projections import rebuild

    return rebuild.main(settings, progress=not args.quiet, jobs=args.jobs)


def _publish(args: argparse.Namespace, settings: config.Settings) -> int:
    from services import publish

    return publish.main(args.file, settings, streams=args.stream)


def _run(args: argparse.Namespace, settings: config.Settings) -> int:
    from services import embedded

    return embedded.main(settings, port=args.port, keep_running=not args.exit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jointcase",
        description="Joint case files and credit blacklist from multi-agency findings. "
        "Configuration comes from the environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, ...).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, fn: Callable[..., int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(fn=fn)
        return p

    p = command("broker", _broker, "run the local Kafka-compatible broker (tansu, memory only)")
    p.add_argument("--listen", help="HOST:PORT (default LOCAL_BROKER_LISTEN, 127.0.0.1:9092)")

    p = command("db", lambda *_: 2, "database operations")
    db_sub = p.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    q = db_sub.add_parser("upgrade", help="apply pending migrations (creates the database)")
    q.set_defaults(fn=_db_upgrade)

    p = command("token", lambda *_: 2, "API tokens")
    tok_sub = p.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    q = tok_sub.add_parser("issue", help="print a new token; only its hash is stored")
    q.add_argument("--role", required=True, help="agency:<stream>, taskforce, bank:<id> or admin")
    q.add_argument("--note", default="", help="who the token is for")
    q.set_defaults(fn=_token_issue)
    q = tok_sub.add_parser("revoke", help="revoke a token by its id (jc_<id>_...)")
    q.add_argument("token_id")
    q.set_defaults(fn=_token_revoke)

    p = command("serve", _serve, "run the HTTP service (ingest gateway and API) with the relay")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--no-relay", action="store_true", help="do not run the outbox relay here")
    p.add_argument(
        "--workers", type=int, default=None, help="HTTP processes (default: HTTP_WORKERS, 1)"
    )

    command("relay", _relay, "run only the outbox relay (event store -> Kafka)")

    command("worker", _worker, "run a projection worker (consumer group over all streams)")

    p = command("rebuild", _rebuild, "recompute every read model from the event store")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="processes to recompute in (default: one more than the cores)",
    )

    p = command("publish", _publish, "publish events from a JSON Lines file to Kafka")
    p.add_argument("file", help="JSON Lines file, one event per line")
    p.add_argument(
        "--stream",
        action="append",
        choices=[s.value for s in Stream],
        metavar="STREAM",
        help="publish only this stream (repeatable; default: every stream); the topics of the "
        "others are not checked, and their events are refused",
    )

    p = command("run", _run, "run everything locally: broker, database, service, demo data")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--exit", action="store_true", help="stop after loading and reporting")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = config.load()
    except ValidationError as exc:
        for line in config.describe_errors(exc):
            print(f"configuration: {line}", file=sys.stderr)
        return 2
    logging.configure(settings.log_format, settings.log_level)
    result: int = args.fn(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
