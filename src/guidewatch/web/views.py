"""The review app's pages. Each view reads the request, calls `guidewatch.app.review`, and
renders; what may be seen or done is decided there, never here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from guidewatch.app import review
from guidewatch.store import StoreError
from guidewatch.web.auth import current, workspace

bp = Blueprint("review", __name__)


def _guide_titles() -> dict[str, str]:
    return {g.slug: g.title for g in workspace().guides}


@bp.get("/")
def queue() -> str:
    who = current()
    return render_template("queue.html", queues=review.queue(workspace(), who), only=None)


@bp.get("/guides/<slug>")
def guide_queue(slug: str) -> str:
    who = current()
    if not who.may(slug):
        abort(404)
    queues = [q for q in review.queue(workspace(), who) if q.slug == slug]
    if not queues:
        abort(404)
    return render_template("queue.html", queues=queues, only=slug)


@bp.get("/changes/<int:change_id>")
def change(change_id: int) -> str:
    item = review.change_item(workspace(), current(), change_id)
    if item is None:
        abort(404)
    return render_template("change.html", item=item, titles=_guide_titles(), labels=review.ACTION_LABELS)


@bp.post("/changes/<int:change_id>/decide")
def decide(change_id: int) -> BaseResponse:
    who = current()
    try:
        done = review.decide(workspace(), who, change_id, request.form.get("section", ""),
                             request.form.get("action", ""), request.form.get("note"))
        flash(f"Recorded: {done.guide}#{done.section} marked “{review.ACTION_LABELS[done.action]}”.")
    except StoreError as exc:
        flash(str(exc), "error")
    return redirect(url_for("review.change", change_id=change_id))


@bp.post("/changes/<int:change_id>/accept")
def accept(change_id: int) -> BaseResponse:
    who = current()
    try:
        flash(review.accept(workspace(), who, change_id, request.form.get("note")).capitalize() + ".")
    except StoreError as exc:
        flash(str(exc), "error")
        return redirect(url_for("review.change", change_id=change_id))
    return redirect(url_for("review.queue"))


@bp.get("/sources")
def sources() -> str:
    return render_template("sources.html", sources=review.visible_sources(workspace(), current()))


@bp.get("/sources/<int:source_id>")
def source(source_id: int) -> str:
    page = review.source_page(workspace(), current(), source_id, request.args.get("old", type=int),
                              request.args.get("new", type=int))
    if page is None:
        abort(404)
    return render_template("source.html", page=page)


def _day(name: str, *, end: bool = False) -> datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        abort(400, f"{name}: expected a date such as 2026-12-01")
    return day + timedelta(days=1) - timedelta(microseconds=1) if end else day


def _audit() -> tuple[review.AuditFilter, list[review.AuditEntry]]:
    wanted = review.AuditFilter(guide=request.args.get("guide") or None, editor=request.args.get("editor") or None,
                                since=_day("since"), until=_day("until", end=True))
    return wanted, review.audit(workspace(), current(), wanted)


@bp.get("/audit")
def audit() -> str:
    who = current()
    wanted, entries = _audit()
    guides = [g for g in workspace().guides if who.may(g.slug)]
    return render_template("audit.html", entries=entries, wanted=wanted, guides=guides,
                           since=request.args.get("since", ""), until=request.args.get("until", ""))


@bp.get("/audit.csv")
def audit_csv() -> Response:
    _, entries = _audit()
    return Response(review.audit_csv(entries), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=guidewatch-audit.csv"})
