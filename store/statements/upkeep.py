"""Worker heartbeats, alert records, console sessions and login failures."""

from sqlalchemy import bindparam, delete, func, insert, or_, select, update

from status import FAILED, SUCCESSES
from store.models import ALERTS, CONSOLE_SESSIONS, HEARTBEATS, LOGIN_FAILURES
from store.statements.base import A, AL, D, F, G, H, JOINED, S, by_dialect, ids

# --- Worker heartbeats and alert records ----------------------------------------------------------------------

def _beat(make):
    """Insert a worker's heartbeat, or refresh all but its start time."""
    new = make(HEARTBEATS)
    seen = ("host", "pid", "seen_at", "last_claim_at", "stopped_at", "mode")
    return new.on_conflict_do_update(index_elements=[H.worker_id], set_={name: new.excluded[name] for name in seen})


BEAT = by_dialect(_beat)
FORGET_WORKERS = delete(HEARTBEATS).where(H.seen_at < bindparam("before"))
STOPPED = (update(HEARTBEATS).where(H.worker_id == bindparam("worker"))
           .values(stopped_at=bindparam("now"), seen_at=bindparam("now")))
WORKER_SEEN = select(func.max(H.seen_at).label("seen_at"), func.max(H.last_claim_at).label("last_claim_at"),
                     func.count().filter(H.stopped_at.is_(None), H.seen_at >= bindparam("recent"))
                     .label("running")).where(H.mode == bindparam("mode"))
TAKE_ALERT = by_dialect(lambda make: make(ALERTS).on_conflict_do_nothing().returning(AL.key))
LAST_ALERT = (select(AL.key, AL.kind, AL.count, AL.created_at)
              .where(AL.subject == bindparam("subject"), AL.kind.in_(ids("kinds")))
              .order_by(AL.created_at.desc(), AL.key.desc()).limit(1))
_ENDED = (select(func.max(AL.created_at)).where(AL.subject == bindparam("subject"), AL.kind == bindparam("ended_by"))
          .scalar_subquery())
EPISODE_START = select(func.min(AL.created_at)).where(AL.subject == bindparam("subject"),
                                                      AL.kind == bindparam("kind"),
                                                      (AL.created_at > _ENDED) | _ENDED.is_(None))
PRUNE_ALERTS = delete(ALERTS).where(AL.created_at < bindparam("before"))
_FAILED_FOR = (D.status == FAILED, D.destination == bindparam("destination"), D.error_kind == bindparam("kind"),
               D.completed_at > bindparam("since"), D.completed_at <= bindparam("until"),
               D.mode == bindparam("mode"))  # a sandbox's failures are no live operator's news
FAILED_FOR = select(func.count(), func.min(D.completed_at), func.max(D.completed_at)).where(*_FAILED_FOR)
FAILED_EXAMPLES = (select(D.id, D.target, D.last_code, D.last_text, D.completed_at).where(*_FAILED_FOR)
                   .order_by(D.completed_at, D.id).limit(bindparam("examples")))
LAST_ATTEMPT_OF = (select(func.max(A.started_at)).select_from(JOINED)
                   .where(D.destination == bindparam("destination")))
LAST_FAILURE_OF_KINDS = LAST_ATTEMPT_OF.where(A.error_kind.in_(ids("kinds")))
LAST_SUCCESS = LAST_ATTEMPT_OF.where(A.outcome.in_(SUCCESSES))
GATE_STATES = select(G.destination, G.state, G.opened_at, G.reason)

# --- Console sessions and login failures ----------------------------------------------------------------------

FORGET_SESSIONS = delete(CONSOLE_SESSIONS).where(or_(S.ended_at.is_not(None), S.expires_at <= bindparam("now")))
START_SESSION = insert(CONSOLE_SESSIONS)
LIVE_SESSION = select(S.search_address).where(S.id == bindparam("id"), S.ended_at.is_(None),
                                              S.expires_at > bindparam("now"))
REMEMBER_SEARCH = (update(CONSOLE_SESSIONS).where(S.id == bindparam("_id"))
                   .values(search_address=bindparam("address")))
END_SESSION = (update(CONSOLE_SESSIONS).where(S.id == bindparam("_id"), S.ended_at.is_(None))
               .values(ended_at=bindparam("now"), search_address=None))
FORGET_QUIET_CLIENTS = delete(LOGIN_FAILURES).where(
    F.last_at < bindparam("quiet_since"), or_(F.locked_until.is_(None), F.locked_until <= bindparam("now")))
NEW_CLIENT = by_dialect(lambda make: make(LOGIN_FAILURES).on_conflict_do_nothing())
CLIENT_LOCKED = select(F.failures, F.locked_until).where(F.client == bindparam("client")).with_for_update()
COUNT_FAILURE = update(LOGIN_FAILURES).where(F.client == bindparam("_client"))
FORGET_CLIENT = delete(LOGIN_FAILURES).where(F.client == bindparam("client"))
