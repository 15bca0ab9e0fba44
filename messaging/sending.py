"""Sending one message, Zulip-style: lock the row, re-check everything, mark it `sending`,
commit; call the provider outside any transaction; record what happened after.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, OuterRef, Subquery, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from caregiver import services as caregiver_services
from caregiver.models import Caregiver, ChannelConfirmation, ConsentRecord
from caregiver.selectors import address_of, caregiver_send_problem, caregivers_consent
from config.redact import pii_mask

from . import discretion, locks, provider_health, rendering, timing
from .dispatch import dispatch_due
from .models import OutboundMessage
from .providers import PermanentError, TransientError, sms_provider
from .providers.email import email_send, outbox_attachments
from .providers.twilio import INVALID_NUMBER, UNSUBSCRIBED

logger = logging.getLogger(__name__)
Status = OutboundMessage.Status
Kind = OutboundMessage.Kind
# A rate-limit wait this short is slept off in the worker; a longer one goes back to the table.
MAX_INLINE_WAIT = 1.0


# --- Checks at send time ----------------------------------------------------------------------


def _consent_problem(message: OutboundMessage, consent: dict[str, bool], now: datetime) -> str:
    """Why this message may not go to this caregiver now ('' when it may)."""
    if message.kind == Kind.ALERT:
        return ""  # to clinic staff, about a caregiver: their consent is not the question
    if message.caregiver_id is None:
        # A staff reply to a number we don't know: it texted us, so an answer is asked for, unless
        # its last word to this clinic was STOP.
        from .inbox import number_stopped

        return "opted_out" if number_stopped(clinic=message.clinic, phone=message.to) else ""
    if (
        message.kind == Kind.CONFIRMATION
        and message.to
        and message.to != address_of(message.caregiver, message.channel)
    ):
        # A code, invitation or welcome made for an address the caregiver no longer has: it names
        # their family, and the new address has not said yes.
        return "address_changed"
    return caregiver_send_problem(
        caregiver=message.caregiver,
        channel=message.channel,
        opted_in=consent.get(message.channel),
        now=now,
        asked_for=message.kind in (Kind.CONFIRMATION, Kind.REPLY),  # a code, a welcome, an answer
    )


class _DailyCap:
    """How many capped messages each caregiver got per channel and local day: one query per batch.

    Messages this batch lets through count too, so two tips in one batch cannot both take the last place.
    """

    def __init__(self, messages: list[OutboundMessage]):
        self.counts: Counter[tuple[int, str, date]] = Counter()
        capped = [m for m in messages if m.kind in OutboundMessage.CAPPED_KINDS]
        if not capped:
            return
        starts = [self._day_start(m) for m in capped]
        # A row another worker is sending has no sent_at yet: it counts from when its attempt began,
        # or two workers could each give away the day's last place.
        went_at = Coalesce("sent_at", "attempt_started_at")
        went_out = (
            OutboundMessage.objects.filter(
                caregiver_id__in={m.caregiver_id for m in capped},
                kind__in=OutboundMessage.CAPPED_KINDS,
                status__in=OutboundMessage.OUT,
            )
            .annotate(went_at=went_at)
            .filter(went_at__gte=min(starts), went_at__lt=max(starts) + timedelta(days=1))
            .exclude(pk__in=[m.pk for m in messages])
        )
        zones = {m.caregiver_id: timing.zone_of(m.caregiver) for m in capped}
        for caregiver_id, channel, went in went_out.values_list("caregiver_id", "channel", "went_at"):
            self.counts[(caregiver_id, channel, went.astimezone(zones[caregiver_id]).date())] += 1

    @staticmethod
    def _day_start(message: OutboundMessage) -> datetime:
        zone = timing.zone_of(message.caregiver)
        return datetime.combine(message.send_at.astimezone(zone).date(), datetime.min.time(), tzinfo=zone)

    def take(self, message: OutboundMessage) -> bool:
        """Count `message` as going out; False (and nothing counted) when its day is full."""
        if message.kind not in OutboundMessage.CAPPED_KINDS:
            return True
        key = (message.caregiver_id, message.channel, timing.local_day(message.caregiver, message.send_at))
        if self.counts[key] >= settings.DAILY_MESSAGE_CAP:
            return False
        self.counts[key] += 1
        return True


def _superseded(messages: list[OutboundMessage], now: datetime) -> set[int]:
    """The batch's sign-up codes, YES invitations and email links that are no longer any use: a
    newer one replaced them, they expired, or the address was confirmed meanwhile. Sending them
    would only confuse, or, after a broker outage, text one number every code asked for while it
    lasted. One query, and only when the batch holds any."""
    wanted: dict[int, int] = {}
    for message in messages:
        prefix, _, confirmation_id = message.dedupe_key.partition(":")
        if message.kind == Kind.CONFIRMATION and prefix == "confirm" and confirmation_id.isdigit():
            wanted[int(confirmation_id)] = message.pk
    if not wanted:
        return set()
    open_ = ChannelConfirmation.objects.filter(pk__in=wanted, confirmed_at__isnull=True, expires_at__gt=now)
    live = set(open_.values_list("pk", flat=True))
    return {message_id for confirmation_id, message_id in wanted.items() if confirmation_id not in live}


def _discretion_problem(message: OutboundMessage) -> str:
    """The words as they would leave, checked once more (messaging.discretion): whatever was
    typed, edited in the admin or rendered by an older release, no text or subject that names a
    treatment, drug or diagnosis goes out."""
    clinic = message.sender_clinic
    if message.channel == "sms":
        allowed = discretion.allowed_for(clinic=clinic, caregiver=message.caregiver, tip=message.tip)
        return discretion.problem(message.body, allowed=allowed)
    return discretion.problem(message.subject, allowed=discretion.clinic_allowed(clinic))


def _decide(message: OutboundMessage, consent: dict[str, bool], cap: _DailyCap, now: datetime) -> str:
    """What to do with one locked, queued message: 'send', 'defer', or the reason to suppress it."""
    if message.not_after and now > message.not_after:
        return "stale"
    reason = _consent_problem(message, consent, now) or message.reminder_problem()
    if reason:
        return reason
    held = _discretion_problem(message)
    if held and message.kind == Kind.ALERT:
        # A page to on-call staff about a crisis is never held back: it goes, and the slip is logged.
        logger.error("staff alert %s goes out although %s", message.pk, held)
    elif held:
        message.last_error = held
        return discretion.HELD
    if message.kind in OutboundMessage.TIMED_KINDS and not timing.is_allowed(message.caregiver, now):
        later = timing.next_allowed(message.caregiver, now) if message.kind != Kind.REMINDER else None
        if later is not None and (message.not_after is None or later < message.not_after):
            message.send_at = later
            return "defer"
        return "quiet_hours"
    if not cap.take(message):
        return "daily_cap"
    return "send"


def _forget_code(message: OutboundMessage) -> bool:
    """Mask a sign-up code in the message once it is done with (sent, failed or dropped).

    Not before: after an ambiguous timeout the body is how we find the message at Twilio.
    """
    if message.kind != Kind.CONFIRMATION:
        return False
    body, html = rendering.redact_codes(message.body), rendering.redact_codes(message.html)
    changed = (body, html) != (message.body, message.html)
    message.body, message.html = body, html
    return changed


def _forget_codes(messages: list[OutboundMessage]) -> None:
    for message in messages:
        if _forget_code(message):
            OutboundMessage.objects.filter(pk=message.pk).update(body=message.body, html=message.html)


# --- The claim --------------------------------------------------------------------------------


def _claim_batch(message_ids: list[int], now: datetime) -> tuple[list[OutboundMessage], dict[int, str]]:
    """Lock the batch's rows and decide each, in one transaction and a handful of queries.

    Returns the messages now `sending`, and what happened to every other id.
    """
    outcomes: dict[int, str] = {}
    with transaction.atomic():
        messages = list(
            OutboundMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("caregiver__clinic", "clinic", "appointment", "rule", "tip__category")
            .filter(pk__in=message_ids)
            .order_by("pk")
        )
        found = {m.pk for m in messages}
        outcomes.update({pk: "locked" for pk in message_ids if pk not in found})  # another worker has it, or gone
        for message in messages:
            if message.status != Status.QUEUED:
                outcomes[message.pk] = f"skipped:{message.status}"
        messages = [m for m in messages if m.status == Status.QUEUED]
        consents = caregivers_consent(caregivers=[m.caregiver for m in messages if not m.fixed_address])
        cap = _DailyCap(messages)
        superseded = _superseded(messages, now)
        lease = now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
        going, deferred, suppressed = [], [], []
        for message in messages:
            if message.pk in superseded:
                decision = "superseded"
            else:
                decision = _decide(message, consents.get(message.caregiver_id, {}), cap, now)
            message.lease_expires_at, message.updated_at = None, now
            if decision == "send":
                if not message.fixed_address:
                    message.to = message.caregiver.phone if message.channel == "sms" else message.caregiver.email
                message.status, message.attempts = Status.SENDING, message.attempts + 1
                if not (message.needs_reconcile and message.attempt_started_at):
                    message.attempt_started_at = now
                message.lease_expires_at = lease
                going.append(message)
            elif decision == "defer":
                message.status = Status.SCHEDULED
                deferred.append(message)
                outcomes[message.pk] = "deferred:quiet_hours"
            else:
                cancels = decision in ("appointment_cancelled", "rescheduled")
                message.status = Status.CANCELLED if cancels else Status.SUPPRESSED
                message.status_reason = decision
                _forget_code(message)
                suppressed.append(message)
                outcomes[message.pk] = f"suppressed:{decision}"
        _mark_sending(going, now=now, lease=lease)
        # Rare paths: a row each is fine here.
        OutboundMessage.objects.bulk_update(deferred, ["status", "send_at", "lease_expires_at", "updated_at"])
        OutboundMessage.objects.bulk_update(
            suppressed, ["status", "status_reason", "lease_expires_at", "updated_at", "body", "html", "last_error"]
        )
    return going, outcomes


def _attempt_start(now: datetime) -> Case:
    # After an ambiguous attempt, reconciling looks at Twilio from when that attempt began, however
    # long the row waited since (a retry pushed past quiet hours waits for hours): keep its start.
    return Case(When(needs_reconcile=True, attempt_started_at__isnull=False, then=F("attempt_started_at")), default=now)


def _mark_sending(messages: list[OutboundMessage], *, now: datetime, lease: datetime) -> None:
    """Mark the batch `sending` with one UPDATE per channel, the same expressions for every row
    (bulk_update's CASE per row and field cost more CPU than the sends themselves)."""
    address = {"sms": "phone", "email": "email"}
    for channel, field in address.items():
        ids = [m.pk for m in messages if m.channel == channel]
        alerts = [m.pk for m in messages if m.channel == channel and m.fixed_address]
        if not ids:
            continue
        changes = {
            "status": Status.SENDING, "attempts": F("attempts") + 1, "attempt_started_at": _attempt_start(now),
            "lease_expires_at": lease, "updated_at": now,
        }  # fmt: skip
        caregivers = [pk for pk in ids if pk not in alerts]
        if caregivers:
            to = Subquery(Caregiver.objects.filter(pk=OuterRef("caregiver_id")).values(field)[:1])
            OutboundMessage.objects.filter(pk__in=caregivers).update(to=to, **changes)
        if alerts:  # to clinic staff, or an unknown number: the address was set when the row was made
            OutboundMessage.objects.filter(pk__in=alerts).update(**changes)


def status_callback_url(message: OutboundMessage) -> str:
    # Our id rides in the URL, so a callback that beats our own bookkeeping still finds its row.
    return f"{settings.PUBLIC_BASE_URL}{reverse('messaging:twilio-status')}?m={message.pk}"


def validity_seconds(message: OutboundMessage, now: datetime) -> int | None:
    """How long Twilio may hold the message in its queue: never past its `not_after`, and a tip or
    reminder never past the end of the caregiver's allowed hours, so a message stuck behind a slow
    sender is dropped by Twilio (error 30036, recorded by the status callback) rather than
    buzzing a phone at night. None: Twilio's default (ten hours)."""
    ends = [message.not_after] if message.not_after else []
    if message.kind in OutboundMessage.CAPPED_KINDS:
        ends.append(timing.window_end(message.caregiver, now) or now)
    if not ends:
        return None
    return max(1, int((min(ends) - now).total_seconds()))


def _sender(message: OutboundMessage) -> tuple[str, str]:
    clinic = message.sender_clinic
    return clinic.twilio_from_number, clinic.twilio_messaging_service_sid


def _provider_send(message: OutboundMessage) -> str:
    if message.channel == "sms":
        provider = sms_provider()
        from_number, service_sid = _sender(message)
        if message.needs_reconcile:
            found = provider.find_sent(
                to=message.to, from_number=from_number, body=message.body, since=message.attempt_started_at
            )
            if found:
                return found
        return provider.send(
            to=message.to,
            body=message.body,
            from_number=from_number,
            messaging_service_sid=service_sid,
            status_callback=status_callback_url(message),
            validity_seconds=validity_seconds(message, timezone.now()),
        )
    return email_send(
        to=message.to,
        subject=message.subject or message.body[:60],
        text=message.body,
        html=message.html,
        unsubscribe_url="" if message.fixed_address else rendering.unsubscribe_url(message.caregiver),
        # Same id on every attempt, so a duplicate after an ambiguous failure is recognisable.
        message_id=f"<outbox-{message.pk}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>",
        # A reminder's appointment, as an .ics the mail app can add to a calendar.
        attachments=outbox_attachments(message),
    )


def _sender_bucket(message: OutboundMessage) -> tuple[str, float]:
    clinic = message.sender_clinic
    sender = clinic.twilio_messaging_service_sid or clinic.twilio_from_number or f"clinic-{clinic.pk}"
    return sender, clinic.sms_mps or settings.SMS_SENDER_MPS


def _prepaid_tokens(messages: list[OutboundMessage]) -> Counter[str]:
    """Take the batch's send tokens in one round trip, per clinic sender."""
    wants: dict[str, tuple[int, float]] = {}
    for message in messages:
        if message.channel == "sms":
            sender, rate = _sender_bucket(message)
            wants[sender] = (wants.get(sender, (0, rate))[0] + 1, rate)
    return Counter(locks.senders_take_tokens(wants))


def _wait_for_token(message: OutboundMessage, prepaid: Counter[str]) -> float:
    """Take a send token for the clinic's SMS sender; returns seconds still to wait (0: go)."""
    if message.channel != "sms":
        return 0.0
    sender, rate = _sender_bucket(message)
    if prepaid[sender] > 0:
        prepaid[sender] -= 1
        return 0.0
    wait = locks.sender_take_token(sender, rate=rate)
    if 0 < wait <= MAX_INLINE_WAIT:
        time.sleep(wait)
        wait = locks.sender_take_token(sender, rate=rate)
    return wait


def batch_deadline_seconds() -> float:
    """How long a batch may go on starting sends: the send task's soft time limit, less the longest
    one send can take (connect and read timeouts) and a margin to record the results.

    So a batch stops on its own, records what it sent and gives the rest back before Celery's soft
    limit interrupts it, and long before its lease expires (the system check `messaging.E001`
    holds deadline < soft limit < hard limit < lease).
    """
    return settings.CELERY_TASK_SOFT_TIME_LIMIT - one_send_seconds() - RECORD_MARGIN_SECONDS


def one_send_seconds() -> float:
    """The longest a single provider call may take before it times out (connect + read)."""
    return 2 * max(settings.TWILIO_TIMEOUT, settings.EMAIL_TIMEOUT or 0)


# Time kept at the end of a batch to write down what it did.
RECORD_MARGIN_SECONDS = 2.0


def messages_send(*, message_ids: Sequence[int]) -> dict[int, str]:
    """Send a batch of queued messages, each at most once. Returns what happened to each id.

    One transaction claims and checks the whole batch; the provider is called outside it, one
    message after another; successes are recorded together at the end. A batch stops starting
    sends at `batch_deadline_seconds()`: what is left goes back to the table for the next tick,
    so a slow provider can neither trip Celery's time limit nor outlive the batch's lease.

    One message that fails in a way nobody foresaw (a bug, a header the mail library refuses)
    is recorded as an error on that message alone; the rest of the batch goes on.
    """
    started = timezone.now()
    claimed, outcomes = _claim_batch(list(message_ids), started)
    deadline = time.monotonic() + batch_deadline_seconds()
    sent: list[tuple[OutboundMessage, str]] = []
    prepaid = _prepaid_tokens(claimed)
    index = 0
    try:
        for index, message in enumerate(claimed):
            if time.monotonic() > deadline:
                outcomes.update(_release(claimed[index:]))
                break
            outcomes[message.pk] = _send_claimed(message, sent, prepaid)
    except SoftTimeLimitExceeded:
        # Celery's soft limit interrupted a send (a provider slower than its own timeouts): that
        # one may have reached the provider, so it is reconciled before any retry; the rest go back.
        logger.error("batch interrupted by the soft time limit at message %s", claimed[index].pk)
        outcomes[claimed[index].pk] = _record_transient(
            claimed[index], TransientError("interrupted by the task's time limit", code="time_limit", ambiguous=True)
        )
        outcomes.update(_release(claimed[index + 1 :]))
    finally:
        # Even if something unexpected breaks the loop, what reached the provider is written down.
        _record_sent(sent)
    return outcomes


def message_send(*, message_id: int) -> str:
    """Send one queued message at most once (a batch of one)."""
    return messages_send(message_ids=[message_id])[message_id]


def _send_claimed(message: OutboundMessage, sent: list[tuple[OutboundMessage, str]], prepaid: Counter[str]) -> str:
    wait = _wait_for_token(message, prepaid)
    if wait > 0:
        _record_later(message, delay=wait, error="", code="rate_limited", ambiguous=False, count_attempt=False)
        return "deferred:rate_limited"
    if message.kind == Kind.CONFIRMATION and _superseded([message], timezone.now()):
        # Asked again while this one waited its turn (the sender's rate limit): an old code that
        # arrived after the new one would only fail when typed.
        return _record_superseded(message)
    try:
        provider_id = _provider_send(message)
    except TransientError as exc:
        if exc.account_refused:
            provider_health.failing(channel=message.channel, code=exc.code, detail=str(exc))
        return _record_transient(message, exc)
    except PermanentError as exc:
        return _record_permanent(message, exc)
    except SoftTimeLimitExceeded:
        raise  # messages_send gives the batch back
    except Exception as exc:
        # Neither transient nor permanent: a bug, or input the provider library refuses (a newline
        # in a mail header). Counted like any failed attempt, so it fails for good at
        # SEND_MAX_ATTEMPTS instead of coming back after every lease. It may have reached the
        # provider before failing, so the next attempt asks the provider first.
        logger.exception("message %s attempt %s failed unexpectedly", message.pk, message.attempts)
        error = TransientError(f"{type(exc).__name__}: {exc}", code="error", ambiguous=True)
        return _record_transient(message, error)
    sent.append((message, provider_id))
    return "sent"


def _release(messages: list[OutboundMessage]) -> dict[int, str]:
    """Give claimed rows back, unsent and with the attempt uncounted: the next tick takes them."""
    now = timezone.now()
    OutboundMessage.objects.filter(pk__in=[m.pk for m in messages], status=Status.SENDING).update(
        status=Status.SCHEDULED, attempts=F("attempts") - 1, lease_expires_at=None, send_at=now, updated_at=now
    )
    return {m.pk: "deferred:batch_time" for m in messages}


# --- Recording results ------------------------------------------------------------------------


def _record_sent(sent: list[tuple[OutboundMessage, str]]) -> None:
    """One UPDATE for every success of the batch (a second only if a status callback beat us).

    Raw SQL on purpose, for the dispatch bar (pipeline >= 0.5 x raw Twilio, docs/benchmarks.md 1):
    each row has its own provider id, and the ORM's CASE of 100 SIDs costs about 23 ms to build
    and compile per batch (measured in one process, 2026-12-03): 0.23 ms a message, some 8 % of
    what the pipeline spends on one, on a bench that sits at 0.48-0.53 x raw. Django's own cursor:
    parameters bound, nothing prepared, visible to query logging.
    """
    if not sent:
        return
    now = timezone.now()
    table = connection.ops.quote_name(OutboundMessage._meta.db_table)
    rows = ", ".join(["(%s, %s)"] * len(sent))
    params = [value for message, sid in sent for value in (message.pk, sid)]
    # A CTE with named columns: the one spelling PostgreSQL and SQLite both accept.
    values = f"WITH v(id, sid) AS (VALUES {rows}) "
    with connection.cursor() as cursor:
        cursor.execute(
            f"{values}UPDATE {table} SET status = %s, provider_id = v.sid, sent_at = %s, lease_expires_at = NULL, "  # noqa: S608 - names are ours, values are parameters
            f"needs_reconcile = %s, last_error = '', error_code = '', updated_at = %s "
            f"FROM v WHERE {table}.id = v.id AND {table}.status = %s",
            [*params, Status.SENT, now, False, now, Status.SENDING],
        )
        if cursor.rowcount < len(sent):
            # A status callback got there first and moved it further; keep that, fill in the id.
            cursor.execute(
                f"{values}UPDATE {table} SET provider_id = v.sid, sent_at = %s "  # noqa: S608 - as above
                f"FROM v WHERE {table}.id = v.id AND {table}.provider_id = ''",
                [*params, now],
            )
    _forget_codes([message for message, _ in sent])
    # After the record, which matters more: the provider took these, so whatever was refused works again.
    provider_health.recovered(channels={message.channel for message, _ in sent})


def backoff_seconds(attempts: int, *, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter (30 s, 60 s, 2 min, ... capped at an hour), at least Retry-After."""
    ceiling = min(3600.0, settings.SEND_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return max(retry_after or 0.0, random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not security


def _record_later(
    message: OutboundMessage, *, delay: float, error: str, code: str, ambiguous: bool, count_attempt: bool = True
) -> str:
    now = timezone.now()
    send_at = now + timedelta(seconds=delay)
    fields = {
        "status": Status.SCHEDULED, "send_at": send_at, "lease_expires_at": None, "last_error": pii_mask(error)[:2000],
        "error_code": code, "needs_reconcile": message.needs_reconcile or ambiguous, "updated_at": now,
    }  # fmt: skip
    if not count_attempt:
        fields["attempts"] = message.attempts - 1
    if message.not_after and send_at > message.not_after:
        fields.update(status=Status.SUPPRESSED, status_reason="stale")
    OutboundMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(**fields)
    if fields["status"] == Status.SUPPRESSED:
        _forget_codes([message])
    return f"retry:{code}" if fields["status"] == Status.SCHEDULED else "suppressed:stale"


def _record_transient(message: OutboundMessage, exc: TransientError) -> str:
    logger.warning("message %s attempt %s failed (%s): %s", message.pk, message.attempts, exc.code, exc)
    if message.attempts >= settings.SEND_MAX_ATTEMPTS:
        return _record_failed(message, f"gave up after {message.attempts} attempts: {exc}", exc.code)
    return _record_later(
        message,
        delay=backoff_seconds(message.attempts, retry_after=exc.retry_after),
        error=str(exc),
        code=exc.code,
        ambiguous=exc.ambiguous,
    )


def _record_superseded(message: OutboundMessage) -> str:
    OutboundMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.SUPPRESSED, status_reason="superseded", attempts=message.attempts - 1, lease_expires_at=None,
        updated_at=timezone.now(),
    )  # fmt: skip
    _forget_codes([message])
    return "suppressed:superseded"


def _record_failed(message: OutboundMessage, error: str, code: str) -> str:
    now = timezone.now()
    OutboundMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.FAILED, last_error=pii_mask(error)[:2000], error_code=code, lease_expires_at=None, updated_at=now
    )
    _forget_codes([message])
    return f"failed:{code}"


def _record_permanent(message: OutboundMessage, exc: PermanentError) -> str:
    logger.warning("message %s failed for good (%s): %s", message.pk, exc.code, exc)
    result = _record_failed(message, str(exc), exc.code)
    caregiver = message.caregiver
    if message.channel == "sms" and not message.fixed_address:
        if exc.code == UNSUBSCRIBED:
            # The carrier says this number unsubscribed (STOP sent to the carrier): honour it everywhere.
            caregiver_services.caregiver_opt_out(
                caregiver=caregiver, channel=ConsentRecord.Channel.SMS, source=ConsentRecord.Source.SMS
            )
        elif exc.code in INVALID_NUMBER:
            caregiver_services.caregiver_block_sms(caregiver=caregiver, reason=f"Twilio {exc.code}: {exc}")
    return result


def due_send_here(*, now: datetime) -> tuple[int, Counter[str]]:
    """One dispatcher tick that sends what it claims in this process, without Celery (for
    `plan_now --send` and the local phone). Returns how many it claimed and what became of them."""
    outcomes: Counter[str] = Counter()

    def send_here(ids: list[int]) -> None:
        for outcome in messages_send(message_ids=ids).values():
            outcomes[outcome.split(":")[0]] += 1

    tick = dispatch_due(
        now=now,
        batch_size=settings.DISPATCH_BATCH_SIZE,
        max_per_tick=settings.DISPATCH_MAX_PER_TICK,
        enqueue=send_here,
    )
    return tick["claimed"], outcomes
