"""casework's REST API under ``/api/v1``: views load, build a command, hand it to the bus."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from services.casework.domain import commands
from services.casework.domain import reports as reports_domain
from services.casework.domain.model import CaseFile
from services.casework.entrypoints import schemas, scope
from services.casework.service_layer.handlers import Dependencies
from shared.auth import allow
from shared.domain import NotFound
from shared.messagebus import MessageBus
from shared.schemas import CAPPED_TOTAL_HEADERS, PageQuery, total_headers
from shared.web import forbid, principal

case_files = Blueprint(
    "case_files",
    __name__,
    url_prefix="/api/v1/case-files",
    description="Fascicoli dei casi: stato, valutazione, invii, sopralluoghi, diario, esiti.",
)
queues = Blueprint(
    "queues",
    __name__,
    url_prefix="/api/v1/queues",
    description="Code di lavoro: invii scaduti, conteggi per il cruscotto.",
)
reports = Blueprint(
    "reports", __name__, url_prefix="/api/v1/reports", description="Esiti misurati, sommati."
)
paths = Blueprint(
    "referral_paths",
    __name__,
    url_prefix="/api/v1/referral-paths",
    description="Percorsi di invio configurati (Welfare, Casa, AMAT…).",
)

NOT_FOUND = "Fascicolo, invio o attività non trovati."
CONFLICT = "Transizione non consentita (indica stato attuale e stati ammessi) o caso chiuso."
RULE = "Regola del dominio non rispettata."


def bus() -> MessageBus[Dependencies]:
    """The command bus of this application."""
    return current_app.extensions["sportello.bus"]


def deps() -> Dependencies:
    """The dependencies of this application (read-only views use them directly)."""
    return bus().deps


def case_file(case_id: str) -> CaseFile:
    """The case file ``case_id`` or 404 (403 outside the caller's scope)."""
    found = g.get("scoped_case_file")
    if found is None or found.id != case_id:
        found = deps().case_files.get(case_id)
    if found is None:
        raise NotFound("Fascicolo non trovato.", id=case_id)
    scope.check_case_file(found)
    return found


def section(case_id: str, name: str) -> CaseFile:
    """The case file ``case_id`` whose section ``name`` the caller may read (else 403/404)."""
    found = case_file(case_id)
    scope.check_section(name)
    return found


@case_files.before_request
def _case_file_in_scope() -> None:
    """Every ``/case-files/<case_id>/...`` route, reads and writes alike, refuses (403) a case
    file outside an operator's counters or without a referral to a path caseworker's path."""
    case_id = (request.view_args or {}).get("case_id")
    if case_id is None or "principal" not in g:
        return
    if principal().role not in ("operator", "path_caseworker"):
        return
    found = deps().case_files.get(case_id)
    if found is not None:  # a missing file answers 404 in its view
        scope.check_case_file(found)
        g.scoped_case_file = found


def own_path(path: str) -> None:
    """A path caseworker acts only on referrals to their own path (403 otherwise)."""
    who = principal()
    if who.role == "path_caseworker" and path != who.path:
        raise forbid("Questo invio è di un altro percorso.")


# --- case files and work queues -------------------------------------------------------------


@case_files.route("")
class CaseFiles(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.arguments(schemas.CaseFileListQuery(), location="query", unknown=RAISE)
    @case_files.response(200, schemas.CaseFileSchema(many=True), headers=CAPPED_TOTAL_HEADERS)
    def get(self, query: dict[str, Any]) -> Any:
        """Work queue: case files by state, assignee («i miei casi»), path, building, counter,
        overdue referrals; newest first (overdue: most overdue first), paginated."""
        state = query.get("state")
        today = deps().clock().date() if query.get("overdue") else None
        filters = {"path": query.get("path")}
        # An operator: its counters only; a path caseworker: its path only (403 for others).
        filters.update(scope.list_filters(query.get("counter_id"), query.get("path")))
        found, total = deps().case_files.list(
            state=state.value if state else None,
            assignee=principal().sub if query.get("mine") else query.get("assignee"),
            building_id=query.get("building_id"),
            counter_id=query.get("counter_id"),
            overdue_on=today,
            limit=query["limit"],
            offset=query["offset"],
            **filters,
        )
        return found, 200, total_headers(total)


@case_files.route("/<case_id>")
class CaseFileById(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.response(200, schemas.CaseFileSchema)
    @case_files.alt_response(404, description="Fascicolo non trovato.")
    def get(self, case_id: str) -> Any:
        """One case file."""
        return case_file(case_id)


@case_files.route("/<case_id>/transitions")
class Transitions(MethodView):
    @allow("operator", "path_caseworker", "admin")
    @case_files.arguments(schemas.TransitionInSchema())
    @case_files.response(200, schemas.CaseFileSchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    @case_files.alt_response(409, description=CONFLICT)
    def post(self, body: dict[str, Any], case_id: str) -> Any:
        """Move the case along its lifecycle; closing needs an outcome and no open referral."""
        return bus().handle(commands.ChangeState(case_id=case_id, **body))


@case_files.route("/<case_id>/assignee")
class Assignee(MethodView):
    @allow("operator", "path_caseworker", "admin")
    @case_files.arguments(schemas.AssignInSchema())
    @case_files.response(200, schemas.CaseFileSchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    @case_files.alt_response(409, description=CONFLICT)
    def put(self, body: dict[str, Any], case_id: str) -> Any:
        """Put an operator in charge of the case."""
        return bus().handle(commands.AssignCase(case_id=case_id, **body))


@case_files.route("/<case_id>/timeline")
class Timeline(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.response(200, schemas.TimelineItemSchema(many=True))
    @case_files.alt_response(404, description=NOT_FOUND)
    def get(self, case_id: str) -> Any:
        """Every change, assessment, referral step, visit, reading, note and task, in order."""
        return section(case_id, "timeline").timeline()


# --- assessment -----------------------------------------------------------------------------


@case_files.route("/<case_id>/assessment-proposal")
class AssessmentProposal(MethodView):
    @allow("operator", "path_caseworker", "admin")
    @case_files.arguments(schemas.ProposalInSchema())
    @case_files.response(200, schemas.ProposalSchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    def post(self, body: dict[str, Any], case_id: str) -> Any:
        """What the rule set proposes on this evidence (nothing is recorded)."""
        evidence, proposal = case_file(case_id).proposal(body["evidence"])
        return {
            "classification": proposal.classification,
            "reasons": proposal.reasons,
            "ruleset_version": proposal.ruleset_version,
            "evidence": evidence,
        }


@case_files.route("/<case_id>/assessments")
class Assessments(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.response(200, schemas.AssessmentSchema(many=True))
    @case_files.alt_response(404, description=NOT_FOUND)
    def get(self, case_id: str) -> Any:
        """Every assessment of the case, oldest first (the history)."""
        return section(case_id, "assessments").assessments

    @allow("operator", "path_caseworker", "admin")
    @case_files.arguments(schemas.AssessmentInSchema())
    @case_files.response(201, schemas.AssessmentSchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    @case_files.alt_response(409, description=CONFLICT)
    def post(self, body: dict[str, Any], case_id: str) -> Any:
        """Record the person's classification; the rule set's proposal is kept beside it."""
        return bus().handle(commands.AssessCase(case_id=case_id, **body))


# --- referrals ------------------------------------------------------------------------------


@case_files.route("/<case_id>/referrals")
class Referrals(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.response(200, schemas.ReferralSchema(many=True))
    @case_files.alt_response(404, description=NOT_FOUND)
    def get(self, case_id: str) -> Any:
        """The case's referrals (a path caseworker: those to its path)."""
        return scope.own_path_only(case_file(case_id).referrals)

    @allow("operator", "path_caseworker", "admin")
    @case_files.arguments(schemas.ReferralInSchema())
    @case_files.response(201, schemas.ReferralSchema)
    @case_files.alt_response(404, description="Fascicolo o percorso non trovati.")
    @case_files.alt_response(409, description=CONFLICT)
    def post(self, body: dict[str, Any], case_id: str) -> Any:
        """Propose a referral to a configured path."""
        return bus().handle(commands.ProposeReferral(case_id=case_id, **body))


@case_files.route("/<case_id>/referrals/<referral_id>")
class ReferralById(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.response(200, schemas.ReferralSchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    def get(self, case_id: str, referral_id: str) -> Any:
        """One referral, with the data shared with its path."""
        referral = case_file(case_id).referral(referral_id)
        own_path(referral.path)
        return referral


# Who takes each referral step: the case's side sends, cancels and reassigns; the path answers.
CASE_SIDE = ("operator", "path_caseworker", "admin")
PATH_SIDE = ("path_caseworker", "admin")


def _referral_step(
    name: str, schema: type, command: type, doc: str, roles: tuple[str, ...] = CASE_SIDE
) -> None:
    """Register ``POST /<case_id>/referrals/<referral_id>/<name>`` for ``roles``."""

    @allow(*roles)
    def post(self: MethodView, body: dict[str, Any], case_id: str, referral_id: str) -> Any:
        own_path(case_file(case_id).referral(referral_id).path)
        return bus().handle(command(case_id=case_id, referral_id=referral_id, **body))

    post.__doc__ = doc
    # The same order as stacked decorators: arguments outermost, alternative responses inside.
    post = case_files.alt_response(422, description=RULE)(post)
    post = case_files.alt_response(409, description=CONFLICT)(post)
    post = case_files.alt_response(404, description=NOT_FOUND)(post)
    post = case_files.response(200, schemas.ReferralSchema)(post)
    post = case_files.arguments(schema())(post)
    view = type(f"Referral{name.title()}", (MethodView,), {"post": post})
    case_files.route(f"/<case_id>/referrals/<referral_id>/{name}")(view)


_referral_step(
    "send",
    schemas.SendInSchema,
    commands.SendReferral,
    "Send the referral: only what the path needs is shared; the deadline starts.",
)
_referral_step(
    "accept",
    schemas.ActorInSchema,
    commands.AcceptReferral,
    "The path takes the referral.",
    PATH_SIDE,
)
_referral_step(
    "decline",
    schemas.ReasonInSchema,
    commands.DeclineReferral,
    "The path declines the referral, with a reason.",
    PATH_SIDE,
)
_referral_step(
    "complete",
    schemas.CompleteInSchema,
    commands.CompleteReferral,
    "The path reports its outcome (and a plain-language text for the tenant).",
    PATH_SIDE,
)
_referral_step(
    "cancel", schemas.ReasonInSchema, commands.CancelReferral, "Cancel the referral, with a reason."
)
_referral_step(
    "reassign",
    schemas.ReassignInSchema,
    commands.ReassignReferral,
    "Hand a sent referral to someone else: its response deadline starts again.",
)


@case_files.route("/<case_id>/disclosures")
class Disclosures(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.response(200, schemas.DisclosureSchema(many=True))
    @case_files.alt_response(404, description=NOT_FOUND)
    def get(self, case_id: str) -> Any:
        """What was shared with whom, by which referral (a path caseworker: with its path)."""
        return scope.own_path_only(case_file(case_id).disclosures)


# --- home visits, diary, outcomes, notes, tasks ----------------------------------------------


@case_files.route("/<case_id>/home-visits")
class HomeVisits(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.response(200, schemas.HomeVisitSchema(many=True))
    @case_files.alt_response(404, description=NOT_FOUND)
    def get(self, case_id: str) -> Any:
        """The case's home visits."""
        return section(case_id, "home-visits").visits

    @allow("operator", "path_caseworker", "admin")
    @case_files.arguments(schemas.HomeVisitInSchema())
    @case_files.response(201, schemas.HomeVisitSchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    @case_files.alt_response(409, description=CONFLICT)
    def post(self, body: dict[str, Any], case_id: str) -> Any:
        """Record a home visit: rooms, appliances, recommendations; savings are computed."""
        return bus().handle(commands.RecordHomeVisit(case_id=case_id, **body))


@case_files.route("/<case_id>/diary")
class Diary(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.response(200, schemas.DiarySchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    def get(self, case_id: str) -> Any:
        """The energy diary, its consumption per period and the anomalies flagged."""
        found = section(case_id, "diary")
        share = deps().anomaly_share
        entries = sorted(found.diary, key=lambda d: (d.read_on, d.at))
        return {"entries": entries, "periods": found.consumption(share), "anomaly_share": share}

    @allow("operator", "path_caseworker", "admin")
    @case_files.arguments(schemas.DiaryInSchema())
    @case_files.response(201, schemas.DiaryEntrySchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    @case_files.alt_response(409, description=CONFLICT)
    def post(self, body: dict[str, Any], case_id: str) -> Any:
        """A dated meter reading (luce kWh, gas Smc) and/or a note."""
        return bus().handle(commands.AddDiaryEntry(case_id=case_id, **body))


@case_files.route("/<case_id>/outcomes")
class Outcomes(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.response(200, schemas.OutcomeSchema(many=True))
    @case_files.alt_response(404, description=NOT_FOUND)
    def get(self, case_id: str) -> Any:
        """The measured outcomes of the case (a path caseworker: those of its path)."""
        return scope.own_path_only(case_file(case_id).outcomes)

    @allow("path_caseworker", "admin")
    @case_files.arguments(schemas.OutcomeInSchema())
    @case_files.response(201, schemas.OutcomeSchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    @case_files.alt_response(409, description=CONFLICT)
    def post(self, body: dict[str, Any], case_id: str) -> Any:
        """Record what the help achieved, as a figure."""
        return bus().handle(commands.RecordOutcome(case_id=case_id, **body))


@case_files.route("/<case_id>/notes")
class Notes(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.response(200, schemas.NoteSchema(many=True))
    @case_files.alt_response(404, description=NOT_FOUND)
    def get(self, case_id: str) -> Any:
        """The case's notes."""
        return section(case_id, "notes").notes

    @allow("operator", "path_caseworker", "admin")
    @case_files.arguments(schemas.NoteInSchema())
    @case_files.response(201, schemas.NoteSchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    @case_files.alt_response(409, description=CONFLICT)
    def post(self, body: dict[str, Any], case_id: str) -> Any:
        """Add a note."""
        return bus().handle(commands.AddNote(case_id=case_id, **body))


@case_files.route("/<case_id>/tasks")
class Tasks(MethodView):
    @allow("operator", "path_caseworker", "coordinator", "admin")
    @case_files.response(200, schemas.TaskSchema(many=True))
    @case_files.alt_response(404, description=NOT_FOUND)
    def get(self, case_id: str) -> Any:
        """The case's tasks, by due date."""
        return sorted(section(case_id, "tasks").tasks, key=lambda t: t.due_date)

    @allow("operator", "path_caseworker", "admin")
    @case_files.arguments(schemas.TaskInSchema())
    @case_files.response(201, schemas.TaskSchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    @case_files.alt_response(409, description=CONFLICT)
    def post(self, body: dict[str, Any], case_id: str) -> Any:
        """Add a task with a due date."""
        return bus().handle(commands.AddTask(case_id=case_id, **body))


@case_files.route("/<case_id>/tasks/<task_id>/complete")
class TaskDone(MethodView):
    @allow("operator", "path_caseworker", "admin")
    @case_files.arguments(schemas.ActorInSchema())
    @case_files.response(200, schemas.TaskSchema)
    @case_files.alt_response(404, description=NOT_FOUND)
    @case_files.alt_response(409, description="Attività già completata o caso chiuso.")
    def post(self, body: dict[str, Any], case_id: str, task_id: str) -> Any:
        """Mark a task done."""
        return bus().handle(commands.CompleteTask(case_id=case_id, task_id=task_id, **body))


# --- queues, reports, paths -----------------------------------------------------------------


@queues.route("/overdue-referrals")
class OverdueReferrals(MethodView):
    @allow("path_caseworker", "coordinator", "admin")
    @queues.arguments(PageQuery(), location="query", unknown=RAISE)
    @queues.response(200, schemas.OverdueReferralSchema(many=True))
    @queues.alt_response(422, description="Parametri non validi.")
    def get(self, query: dict[str, Any]) -> Any:
        """Referrals sent and unanswered past their deadline: oldest deadline first, then the
        longest open case file."""
        today = deps().clock().date()
        who = principal()
        # A path caseworker: its own path's referrals only.
        path = who.path if who.role == "path_caseworker" else None
        return deps().case_files.overdue_referrals(today, query["limit"], query["offset"], path)


@queues.route("/counts")
class Counts(MethodView):
    @allow("path_caseworker", "coordinator", "admin")
    @queues.response(200, schemas.CountsSchema)
    @queues.alt_response(503, description="Archivio non raggiungibile.")
    def get(self) -> Any:
        """Cases per state and referrals per path and state, for the dashboard."""
        return deps().case_files.counts()


@reports.route("/outcomes")
class OutcomeTotals(MethodView):
    @allow("coordinator", "admin")
    @reports.arguments(schemas.OutcomeReportQuery(), location="query", unknown=RAISE)
    @reports.response(200, schemas.OutcomeTotalSchema(many=True))
    @reports.alt_response(422, description="Parametri non validi.")
    def get(self, query: dict[str, Any]) -> Any:
        """Measured outcomes summed per building, counter or path, and kind."""
        return deps().case_files.outcome_totals(query["group_by"])


@reports.route("/dashboard")
class Dashboard(MethodView):
    @allow("coordinator", "admin")
    @reports.response(200, schemas.DashboardSchema)
    @reports.alt_response(503, description="Archivio non raggiungibile.")
    def get(self) -> Any:
        """The coordinators' dashboard over every case file: cases per state, path and building,
        referrals per path and state, mean and median hours to first response per path."""
        return reports_domain.dashboard(deps().case_files.dashboard_rows())


@paths.route("")
class ReferralPaths(MethodView):
    @allow("operator", "path_caseworker", "custode", "coordinator", "admin")
    @paths.response(200, schemas.ReferralPathSchema(many=True))
    @paths.alt_response(503, description="Servizio non disponibile.")
    def get(self) -> Any:
        """The configured referral paths, their deadlines and the data each may see."""
        return sorted(deps().paths.values(), key=lambda p: p.name)


BLUEPRINTS = (case_files, queues, reports, paths)
