"""The `rightsdesk` command.  Output formats named in issues are stable interfaces: extend with
new keys, never rename (shared/design.md)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from bot.config import Config, ConfigError, load_config

DEFAULT_CONFIG = "rightsdesk.toml"


def _json(obj: dict[str, Any], out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, default=_default) + "\n")


def _default(o: object) -> str:
    if isinstance(o, datetime | date):
        return o.isoformat()
    raise TypeError(type(o).__name__)


def _config(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("RIGHTSDESK_CONFIG") or DEFAULT_CONFIG
    cfg = load_config(path)
    cfg.resolve_secrets()
    return cfg


def _db(cfg: Config) -> Any:
    from storage.db import Database

    return Database(cfg.database_url())


# -- commands ---------------------------------------------------------------------------------
def cmd_deadline(args: argparse.Namespace, out: TextIO) -> int:
    """`rightsdesk deadline RECEIVED...`: one JSON line per instant (shared/domain.md §1)."""
    from bot.deadline import Calendar

    if args.config or os.environ.get("RIGHTSDESK_CONFIG"):
        d = _config(args).deadlines
        cal = Calendar(d.holiday_country, d.working_day_holidays, d.timezone)
        target = d.target_working_days_before
    else:
        cal, target = Calendar(), 5
    rc = 0
    for value in args.received:
        try:
            instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if instant.tzinfo is None:
                raise ValueError("needs a UTC offset, e.g. 2026-03-05T10:00:00+02:00")
            dl = cal.deadlines(instant, target)
        except ValueError as exc:
            _json({"received": value, "error": str(exc)}, out)
            rc = 1
            continue
        _json({"received": value, "received_date": dl.received_date, "deadline": dl.deadline,
               "extended_deadline": dl.extended_deadline, "target_date": dl.target_date}, out)
    return rc


def case_json(case: Any, opening: Any, mailbox_name: str) -> dict[str, Any]:
    return {
        "id": case.id, "token": case.token, "types": list(case.types),
        "language": case.language, "status": case.status,
        "received_date": case.received_date, "deadline": case.deadline,
        "extended_deadline": case.extended_deadline, "target_date": case.target_date,
        "from": case.subject_email, "message_id": opening.message_id if opening else None,
        "needs_triage": case.needs_triage, "mailbox": mailbox_name,
        "detected_language": case.detected_language,
    }


def cmd_cases(args: argparse.Namespace, out: TextIO) -> int:
    from storage.models import Case, Mailbox, Message

    db = _db(_config(args))
    with db.session() as s:
        q = (select(Case, Message, Mailbox).join(Message, Message.id == Case.opening_message_id)
             .join(Mailbox, Mailbox.id == Case.mailbox_id).order_by(Case.deadline, Case.id))
        if args.status:
            q = q.where(Case.status == args.status)
        rows = s.execute(q).all()
        if args.json:
            for case, msg, mb in rows:
                _json(case_json(case, msg, mb.name), out)
            return 0
        if not rows:
            out.write("no cases\n")
            return 0
        out.write(f"{'ID':>4}  {'CASE':<12}  {'DEADLINE':<10}  {'STATUS':<17}  LANG  TYPES\n")
        for case, _msg, _mb in rows:
            flag = " (needs triage)" if case.needs_triage else ""
            out.write(f"{case.id:>4}  {case.token:<12}  {case.deadline.isoformat():<10}  "
                      f"{case.status:<17}  {case.language:<4}  {','.join(case.types)}{flag}\n")
    return 0


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    from bot.cases import find_case
    from classifiers.mime import parse_message
    from storage.models import Message

    db = _db(_config(args))
    with db.session() as s:
        case = find_case(s, args.case)
        if case is None:
            print(f"rightsdesk: no case {args.case}", file=sys.stderr)
            return 1
        msg = s.get(Message, case.opening_message_id)
        assert msg is not None
        mail = parse_message(msg.raw)
        out.write(f"Case {case.token} (id {case.id}) — {case.status}\n")
        out.write(f"  types:        {', '.join(case.types) or '(needs triage)'}\n")
        out.write(f"  from:         {case.subject_name or ''} <{case.subject_email}>\n")
        out.write(f"  language:     {case.language} (detected {case.detected_language})\n")
        out.write(f"  received:     {case.received_date} (INTERNALDATE {case.received_at})\n")
        out.write(f"  deadline:     {case.deadline}  (extended: {case.extended_deadline}, "
                  f"internal target: {case.target_date})\n")
        details = case.details or {}
        for key in ("new_values", "identifiers"):
            if details.get(key):
                out.write(f"  {key}: {json.dumps(details[key], ensure_ascii=False)}\n")
        if details.get("on_behalf"):
            out.write("  on behalf of someone else: yes — verify the authorisation\n")
        out.write(f"\n--- message {mail.message_id or '(no Message-ID)'}\n")
        out.write(f"Subject: {mail.subject}\n\n")
        body = mail.text_plain or mail.text_html or ""
        out.write(body[:4000].rstrip() + "\n")
        for d in case.drafts:
            out.write(f"\n--- draft {d.id}: {d.kind} [{d.status}] to {d.to_addr}\n")
            out.write(f"Subject: {d.subject}\n\n{d.body}")
            if d.reason:
                out.write(f"(rejected: {d.reason})\n")
        out.write("\n--- history\n")
        for e in case.events:
            out.write(f"  {e.at:%Y-%m-%d %H:%M} {e.status:<17} {e.actor:<10} {e.note or ''}\n")
    return 0


def _actor(args: argparse.Namespace) -> str:
    return str(args.by or os.environ.get("USER") or "staff")


def cmd_approve(args: argparse.Namespace, out: TextIO) -> int:
    from bot import approval

    cfg = _config(args)
    db = _db(cfg)
    body = Path(args.body_file).read_text(encoding="utf-8") if args.body_file else None
    try:
        with db.session() as s:
            case = approval.approve(s, cfg, cfg.secret(), args.case, _actor(args), body)
            out.write(f"approved {case.token}: reply queued for sending\n")
    except approval.ApprovalError as exc:
        print(f"rightsdesk: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_reject(args: argparse.Namespace, out: TextIO) -> int:
    from bot import approval

    db = _db(_config(args))
    try:
        with db.session() as s:
            case = approval.reject(s, args.case, _actor(args), args.reason)
            out.write(f"rejected the draft of {case.token}\n")
    except approval.ApprovalError as exc:
        print(f"rightsdesk: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_triage(args: argparse.Namespace, out: TextIO) -> int:
    from bot import approval

    cfg = _config(args)
    db = _db(cfg)
    try:
        with db.session() as s:
            if args.dismiss:
                case = approval.dismiss(s, args.case, _actor(args), args.reason or "")
                out.write(f"dismissed {case.token}: not a rights request\n")
            else:
                types = [t.strip() for t in (args.types or "").split(",") if t.strip()]
                case = approval.set_types(s, cfg, cfg.secret(), args.case, types, _actor(args))
                out.write(f"{case.token}: {', '.join(case.types)}; {case.status}\n")
    except approval.ApprovalError as exc:
        print(f"rightsdesk: {exc}", file=sys.stderr)
        return 1
    return 0


def message_json(msg: Any, mailbox_name: str, case_token: str | None) -> dict[str, Any]:
    from storage.clock import aware

    outcome = msg.outcome if msg.stage != "new" else "pending"
    obj: dict[str, Any] = {
        "id": msg.id, "mailbox": mailbox_name, "folder": msg.folder, "uid": msg.uid,
        "uidvalidity": msg.uidvalidity, "message_id": msg.message_id,
        # aware(): SQLite hands back naive UTC; the offset must be there on every backend.
        "received": aware(msg.internaldate), "size": msg.size, "outcome": outcome,
        "case_id": msg.case_id, "case": case_token,
        "reason": msg.outcome_reason, "flags": list(msg.flags or []),
    }
    if msg.classification:
        obj["labels"] = msg.classification.get("labels", [])
        obj["language"] = msg.classification.get("language")
    return obj


def _messages(args: argparse.Namespace, only_quarantined: bool, out: TextIO) -> int:
    from storage.models import Case, Mailbox, Message

    db = _db(_config(args))
    with db.session() as s:
        q = (select(Message, Mailbox.name, Case.token)
             .join(Mailbox, Mailbox.id == Message.mailbox_id)
             .outerjoin(Case, Case.id == Message.case_id).order_by(Message.id))
        if only_quarantined:
            q = q.where(Message.stage == "quarantined")
        rows = s.execute(q).all()
        if getattr(args, "json", False):
            for msg, mb, token in rows:
                _json(message_json(msg, mb, token), out)
            return 0
        if not rows:
            out.write("no messages\n" if not only_quarantined else "quarantine is empty\n")
        for msg, mb, token in rows:
            o = message_json(msg, mb, token)
            extra = f" {token}" if token else ""
            reason = f"  ({o['reason']})" if o["outcome"] in ("quarantined",) else ""
            out.write(f"{msg.id:>5}  {mb}/{msg.folder} uid {msg.uid:<6} "
                      f"{o['outcome']}{extra}{reason}\n")
    return 0


def cmd_messages(args: argparse.Namespace, out: TextIO) -> int:
    return _messages(args, False, out)


def cmd_quarantine(args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "retry":
        if args.id is None:
            print("rightsdesk: quarantine retry needs a message ID", file=sys.stderr)
            return 2
        from bot.pipeline import Pipeline

        cfg = _config(args)
        p = Pipeline(_db(cfg), cfg).retry(args.id)
        if p is None:
            print(f"rightsdesk: message {args.id} is not in quarantine", file=sys.stderr)
            return 1
        out.write(f"message {args.id}: {p.outcome}"
                  f"{f' (case {p.case_id})' if p.case_id else ''}\n")
        return 0
    return _messages(args, True, out)


def cmd_outbox(args: argparse.Namespace, out: TextIO) -> int:
    from storage.models import OutboxItem

    cfg = _config(args)
    db = _db(cfg)
    if args.action in ("resend", "mark-sent"):
        from bot.outbox.sender import OutboxSender

        sender = OutboxSender(db, cfg, cfg.secret())
        if args.id is None:
            print("rightsdesk: give the outbox item ID", file=sys.stderr)
            return 2
        (sender.resend if args.action == "resend" else sender.mark_sent)(args.id)
        out.write(f"outbox item {args.id}: {args.action} done\n")
        return 0
    with db.session() as s:
        for item in s.scalars(select(OutboxItem).order_by(OutboxItem.id)):
            out.write(f"{item.id:>5}  {item.kind:<12} {item.status:<8} attempts {item.attempts}"
                      f"  {item.last_error or ''}\n")
    return 0


def cmd_check_config(args: argparse.Namespace, out: TextIO) -> int:
    cfg = _config(args)
    out.write(f"config OK: {cfg.company.name}, {len(cfg.mailboxes)} mailbox(es), "
              f"{len(cfg.registers)} register(s)\n")
    return 0


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from bot.daemon import Daemon

    cfg = _config(args)
    Daemon(cfg).run_forever()
    return 0


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from bot.demo import run_demo

    return run_demo(Path(args.data_dir), once=args.once,
                    extra_mail=Path(args.extra_mail) if args.extra_mail else None,
                    company=args.company, out=out)


def cmd_classify(args: argparse.Namespace, out: TextIO) -> int:
    from classifiers.cli import classify_command

    return classify_command(list(args.files), out)


def cmd_train(args: argparse.Namespace, out: TextIO) -> int:
    from classifiers.cli import train_command

    return train_command(args.seed, Path(args.out) if args.out else None)


def cmd_eval(args: argparse.Namespace, out: TextIO) -> int:
    from classifiers.cli import eval_command

    return eval_command(out)


# -- parser -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rightsdesk", description=__doc__)
    p.add_argument("--config",
                   help="config file (default: $RIGHTSDESK_CONFIG or ./rightsdesk.toml)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn: Callable[[argparse.Namespace, TextIO], int], help_: str) -> Any:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--config", default=argparse.SUPPRESS, help="config file")
        sp.set_defaults(func=fn)
        return sp

    add("run", cmd_run, "run the daemon")
    sp = add("demo", cmd_demo, "run the whole product on embedded servers with sample mail")
    sp.add_argument("--once", action="store_true", help="process the sample mail, summarise, exit")
    sp.add_argument("--data-dir", default="demo-data")
    sp.add_argument("--extra-mail", help="directory of .eml files added to the sample mailbox")
    sp.add_argument("--company", choices=["kespet", "kera"], default="kespet")
    sp = add("cases", cmd_cases, "list cases by deadline")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--status")
    sp = add("show", cmd_show, "show one case: message, drafts, history")
    sp.add_argument("case")
    sp = add("approve", cmd_approve, "approve a case's reply draft and queue it")
    sp.add_argument("case")
    sp.add_argument("--by", help="staff name recorded in the history")
    sp.add_argument("--body-file", help="send this edited text instead of the draft body")
    sp = add("reject", cmd_reject, "reject a case's reply draft")
    sp.add_argument("case")
    sp.add_argument("--reason", required=True)
    sp.add_argument("--by")
    sp = add("triage", cmd_triage, "decide a case the classifier was unsure of")
    sp.add_argument("case")
    g = sp.add_mutually_exclusive_group(required=True)
    g.add_argument("--types", help="comma-separated: access,rectification,erasure,...")
    g.add_argument("--dismiss", action="store_true", help="not a rights request")
    sp.add_argument("--reason")
    sp.add_argument("--by")
    sp = add("messages", cmd_messages, "every ingested message and what became of it")
    sp.add_argument("--json", action="store_true")
    sp = add("quarantine", cmd_quarantine, "list quarantined messages or retry one")
    sp.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    sp.add_argument("id", nargs="?", type=int)
    sp.add_argument("--json", action="store_true")
    sp = add("outbox", cmd_outbox, "list outgoing mail; resend or mark-sent an 'unknown' item")
    sp.add_argument("action", nargs="?", choices=["list", "resend", "mark-sent"], default="list")
    sp.add_argument("id", nargs="?", type=int)
    sp = add("deadline", cmd_deadline, "statutory deadlines for receipt instants (JSON lines)")
    sp.add_argument("received", nargs="+", help="ISO 8601 instant with offset")
    add("check-config", cmd_check_config, "validate the config file and its secrets")
    sp = add("classify", cmd_classify, "classify .eml files (JSON lines)")
    sp.add_argument("files", nargs="+")
    sp = add("train", cmd_train, "rebuild the classifier model from the corpus")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--out", help="model directory (default: the packaged model)")
    add("eval", cmd_eval, "evaluate the classifier on the held-out corpus")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # aiosmtpd (the demo's SMTP server) logs envelope addresses at INFO: personal data.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    try:
        return int(args.func(args, out or sys.stdout))
    except ConfigError as exc:
        print(f"rightsdesk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
